// demo/index.ts: the public API of the demonstration (`cairn demo`, `npm start`).
export { runDemo, type DemoOptions, type DemoSummary } from './demo.js';
export { startNetworkLab, type NetworkLab } from './network-lab.js';
