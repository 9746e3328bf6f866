// test/log/c2sp-check.go: an independent check of cairn's RFC 6962 tree and C2SP notes with Go's
// golang.org/x/mod/sumdb (tlog and note), the implementation Go's checksum database runs
// (Debian: golang-go, golang-golang-x-mod-dev). Run by test/log/c2sp-interop.test.ts:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run c2sp-check.go INPUT.json
//
// INPUT holds cairn's leaves, root hashes, proofs and a checkpoint note it signed; this program
// recomputes each with tlog, checks cairn's proofs with tlog.CheckRecord and tlog.CheckTree,
// opens cairn's note with note.Open, and prints a checkpoint note it signed itself, for cairn to
// verify. Any difference exits 1 naming it.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	Leaves      []string `json:"leaves"`
	Roots       map[string]string
	Inclusion   []struct{ Index, Size int64; Proof []string }
	Consistency []struct{ First, Second int64; Proof []string }
	Note        string
	Vkey        string
	Origin      string
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func hash(s string) tlog.Hash {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		fail("not a hash: %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail("%v", err)
	}
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	data := make([][]byte, len(in.Leaves))
	for i, l := range in.Leaves {
		data[i], _ = base64.StdEncoding.DecodeString(l)
		hs, err := tlog.StoredHashes(int64(i), data[i], reader)
		if err != nil {
			fail("%v", err)
		}
		stored = append(stored, hs...)
	}
	roots := map[int64]tlog.Hash{}
	for size, root := range in.Roots {
		var n int64
		fmt.Sscan(size, &n)
		th, err := tlog.TreeHash(n, reader)
		if err != nil || th != hash(root) {
			fail("tree of %d: tlog's root %v, cairn's %s (%v)", n, th, root, err)
		}
		roots[n] = th
	}
	for _, p := range in.Inclusion {
		proof := tlog.RecordProof{}
		for _, h := range p.Proof {
			proof = append(proof, hash(h))
		}
		mine, err := tlog.ProveRecord(p.Size, p.Index, reader)
		if err != nil || fmt.Sprint(mine) != fmt.Sprint(proof) {
			fail("inclusion of %d in %d: tlog's proof %v, cairn's %v (%v)", p.Index, p.Size, mine, proof, err)
		}
		if err := tlog.CheckRecord(proof, p.Size, roots[p.Size], p.Index, tlog.RecordHash(data[p.Index])); err != nil {
			fail("inclusion of %d in %d: tlog refuses cairn's proof: %v", p.Index, p.Size, err)
		}
	}
	for _, p := range in.Consistency {
		proof := tlog.TreeProof{}
		for _, h := range p.Proof {
			proof = append(proof, hash(h))
		}
		mine, err := tlog.ProveTree(p.Second, p.First, reader)
		if err != nil || fmt.Sprint(mine) != fmt.Sprint(proof) {
			fail("consistency of %d with %d: tlog's proof %v, cairn's %v (%v)", p.First, p.Second, mine, proof, err)
		}
		if err := tlog.CheckTree(proof, p.Second, roots[p.Second], p.First, roots[p.First]); err != nil {
			fail("consistency of %d with %d: tlog refuses cairn's proof: %v", p.First, p.Second, err)
		}
	}
	verifier, err := note.NewVerifier(in.Vkey)
	if err != nil {
		fail("cairn's verifier key %q: %v", in.Vkey, err)
	}
	opened, err := note.Open([]byte(in.Note), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open refuses cairn's checkpoint: %v", err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, in.Origin)
	if err != nil {
		fail("%v", err)
	}
	signer, _ := note.NewSigner(skey)
	signed, err := note.Sign(&note.Note{Text: opened.Text}, signer)
	if err != nil {
		fail("%v", err)
	}
	out, _ := json.Marshal(map[string]string{"note": string(signed), "vkey": vkey})
	fmt.Println(string(out))
}
