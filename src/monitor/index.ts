// monitor/index.ts: the monitor layer (docs/transparency.md "Monitors"): following a release log
// from several mirrors and witnesses, and raising alarms with proofs.
export { LogMonitor, MONITOR_LIMITS, type Alarm, type AlarmKind, type MonitorOptions, type PollReport, type SourceStatus, type WitnessStatus } from './monitor.js';
export { MONITOR_DATABASE } from './state.js';
