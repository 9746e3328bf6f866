// test/log/c2sp-check.go: an independent check of cairn's RFC 6962 tree and C2SP notes with Go's
// golang.org/x/mod/sumdb (tlog and note), the implementation Go's checksum database runs
// (Debian: golang-go, golang-golang-x-mod-dev). Run by test/log/c2sp-interop.test.ts:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run c2sp-check.go INPUT.json
//
// INPUT holds cairn's leaves, root hashes, proofs and a checkpoint note it signed; this program
// recomputes each with tlog, checks cairn's proofs with tlog.CheckRecord and tlog.CheckTree,
// reads the tiles cairn wrote (c2sp.org/tlog-tiles: sumdb's tile paths without the height
// element) through tlog.TileHashReader, which authenticates each tile against the tree's root,
// and proves records and trees from them, opens cairn's note with note.Open, and prints a
// checkpoint note it signed itself, for cairn to verify. Any difference exits 1 naming it.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	Leaves    []string `json:"leaves"`
	Roots     map[string]string
	Inclusion []struct {
		Index, Size int64
		Proof       []string
	}
	Consistency []struct {
		First, Second int64
		Proof         []string
	}
	Note       string
	Vkey       string
	Origin     string
	TileDir    string
	TileLeaves []string
	TileRoot   string
}

// dirTiles reads cairn's tiles: a sumdb path tile/8/L/N[.p/W] is tile/L/N[.p/W] in C2SP's layout.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, strings.Replace(t.Path(), "tile/8/", "tile/", 1)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// checkTiles proves every record and every smaller tree from cairn's tiles of the tree of
// len(leaves) leaves, and checks each proof against roots tlog computes from the leaves.
func checkTiles(in input) {
	data, memory := storedTree(in.TileLeaves)
	n := int64(len(data))
	root, err := tlog.TreeHash(n, memory)
	if err != nil || root != hash(in.TileRoot) {
		fail("tree of %d: tlog's root %v, cairn's %s (%v)", n, root, in.TileRoot, err)
	}
	tiles := tlog.TileHashReader(tlog.Tree{N: n, Hash: root}, dirTiles{in.TileDir})
	if th, err := tlog.TreeHash(n, tiles); err != nil || th != root {
		fail("tree of %d from cairn's tiles: %v (%v)", n, th, err)
	}
	for i := int64(0); i < n; i++ {
		p, err := tlog.ProveRecord(n, i, tiles)
		if err != nil {
			fail("record %d from cairn's tiles: %v", i, err)
		}
		if err := tlog.CheckRecord(p, n, root, i, tlog.RecordHash(data[i])); err != nil {
			fail("record %d from cairn's tiles does not check: %v", i, err)
		}
	}
	for m := int64(1); m < n; m++ {
		p, err := tlog.ProveTree(n, m, tiles)
		if err != nil {
			fail("tree %d from cairn's tiles: %v", m, err)
		}
		old, _ := tlog.TreeHash(m, memory)
		if err := tlog.CheckTree(p, n, root, m, old); err != nil {
			fail("tree %d in %d from cairn's tiles does not check: %v", m, n, err)
		}
	}
}

// storedTree decodes base64 leaves and stores tlog's hashes of their tree in memory.
func storedTree(leaves []string) ([][]byte, tlog.HashReader) {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	data := make([][]byte, len(leaves))
	for i, l := range leaves {
		data[i], _ = base64.StdEncoding.DecodeString(l)
		hs, err := tlog.StoredHashes(int64(i), data[i], reader)
		if err != nil {
			fail("%v", err)
		}
		stored = append(stored, hs...)
	}
	return data, reader
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
	data, reader := storedTree(in.Leaves)
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
	checkTiles(in)
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
