package lineproto

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// fuzzPrecisions are the precisions FuzzParse picks from.
var fuzzPrecisions = []Precision{Nanosecond, Microsecond, Millisecond, Second, Minute, Hour}

// addCorpusSeeds adds up to n inputs of the conformance corpus, spread over
// its sorted keys and including accepted ones, as fuzz seeds.
func addCorpusSeeds(f *testing.F, n int) {
	path := os.Getenv(corpusEnv)
	if path == "" {
		path = corpusPath
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return // the hand-written seeds still run
	}
	var c corpus
	if err := json.Unmarshal(data, &c); err != nil {
		f.Fatalf("decode corpus %s: %v", path, err)
	}
	var good, bad []string
	for k, tc := range c.Decode {
		if tc.Output.Error == nil {
			good = append(good, k)
		} else {
			bad = append(bad, k)
		}
	}
	sort.Strings(good)
	sort.Strings(bad)
	pick := func(keys []string, m int) {
		for i := 0; i < m && len(keys) > 0; i++ {
			tc := c.Decode[keys[i*len(keys)/m]]
			var s string
			if err := json.Unmarshal(tc.Input.Text, &s); err != nil {
				continue // binary inputs: the text ones suffice as seeds
			}
			f.Add([]byte(s), uint8(0), int64(0))
		}
	}
	pick(good, n*3/5)
	pick(bad, n-n*3/5)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpu,host=serverA,region=us-west value=1.0 1000000000",
		"cpu value=1i,b=2u,c=true,d=\"x\\\"y\\\\z\" -5\n",
		"# comment\r\n\r\ncpu v=1\r\ncpu v=2 2\r",
		"c\\ p\\,u,t\\ k\\,\\==v\\ a\\,l\\=\\x f\\ k\\,\\==1",
		"m s=\"multi\nline\" 1\nm v=.5,w=1.,x=-1e-3",
		"m a=1,a=2,b=3",
		"m,a=1,a=2 v=1",
		"m v=9223372036854775807i 9223372036854775807",
		"m v=1 99999999999",
		"   m v=1  12  ",
		"\tm v=1",
		"m v=1\rx",
		"m,k=v\x01 v=1",
		"m \xff=1",
		// Repeated sections, escaped or not, among others (heads).
		"m,a=b\\ c v=1\nm,a=b\\ c v=2\nm,a=b\\,c v=3\nm,a=b\\ c v=4 5",
		"m,h=1 v=1\nm,h=2 v=1\nm,h=1 v=2\nn,h=1 v=3\nm,h=1 v=4i",
	} {
		f.Add([]byte(s), uint8(0), int64(1_000_000_123))
	}
	f.Add([]byte("m v=1 5\nm v=2"), uint8(3), int64(-1_500_000_000))
	addCorpusSeeds(f, 50)

	f.Fuzz(func(t *testing.T, data []byte, precIdx uint8, def int64) {
		prec := fuzzPrecisions[int(precIdx)%len(fuzzPrecisions)]
		points, lines, errs := Parse(data, prec, def)

		if len(points) != len(lines) {
			t.Fatalf("input %q: got %d points and %d line numbers", data, len(points), len(lines))
		}
		if len(errs) > MaxErrors {
			t.Fatalf("input %q: got %d errors, want at most %d", data, len(errs), MaxErrors)
		}
		nlines := bytes.Count(data, []byte{'\n'}) + 1
		prev := 0
		for _, l := range lines {
			if l <= prev || l > nlines {
				t.Fatalf("input %q: got line numbers %v, want increasing numbers in [1, %d]", data, lines, nlines)
			}
			prev = l
		}
		for _, e := range errs {
			if e.Line < 1 || e.Line > nlines || e.Column < 1 || e.Reason == "" {
				t.Fatalf("input %q: got error %+v, want a line in [1, %d], a column >= 1 and a reason", data, *e, nlines)
			}
		}
		if len(points) == 0 && len(errs) == 0 && !blankOrComments(data) {
			t.Fatalf("input %q: got neither points nor errors", data)
		}
		for i := range points {
			p := &points[i]
			if !sort.SliceIsSorted(p.Tags, func(a, b int) bool { return p.Tags[a].Key < p.Tags[b].Key }) {
				t.Fatalf("input %q: got unsorted tags %v", data, p.Tags)
			}
			if p.Time%int64(prec) != 0 {
				t.Fatalf("input %q: got time %d, not a multiple of %v", data, p.Time, prec)
			}
		}
		roundTrip(t, data, points)

		// Lines that repeat a measurement-and-tags section reuse its
		// parse: a second copy must parse exactly as the first.
		if len(errs) == 0 && len(points) > 0 {
			twice := append(append(append([]byte(nil), data...), '\n'), data...)
			again, _, errs2 := Parse(twice, prec, def)
			if len(errs2) != 0 || len(again) != 2*len(points) {
				t.Fatalf("input %q twice: got %d points and errors %v, want %d points", data, len(again), errs2, 2*len(points))
			}
			for i := range points {
				if !samePoint(&points[i], &again[len(points)+i]) {
					t.Fatalf("input %q twice: point %d is %+v, first time %+v", data, i, again[len(points)+i], points[i])
				}
			}
		}

		// Parsers are reused between calls: a call after others parses
		// as the first did, and the first call's points are intact.
		kept := slices.Clone(points)
		for i := range kept {
			kept[i].Tags = slices.Clone(kept[i].Tags)
			kept[i].Fields = slices.Clone(kept[i].Fields)
		}
		Parse([]byte("other,x=1 v=1\nm,h=2 v=2"), Nanosecond, 0)
		later, _, errs3 := Parse(data, prec, def)
		if len(later) != len(points) || len(errs3) != len(errs) {
			t.Fatalf("input %q again: got %d points and %d errors, first time %d and %d", data, len(later), len(errs3), len(points), len(errs))
		}
		for i := range points {
			if !samePoint(&points[i], &later[i]) || !samePoint(&points[i], &kept[i]) {
				t.Fatalf("input %q again: point %d is %+v, first time %+v", data, i, later[i], kept[i])
			}
		}

		// Fields cut from an arena, fresh and reused, are the same.
		var arena Arena
		for round := range 2 {
			inArena, _, _ := ParseInto(&arena, data, prec, def, Checks{})
			if len(inArena) != len(kept) {
				t.Fatalf("input %q into an arena (round %d): got %d points, want %d", data, round, len(inArena), len(kept))
			}
			for i := range kept {
				if !samePoint(&kept[i], &inArena[i]) {
					t.Fatalf("input %q into an arena (round %d): point %d is %+v, want %+v", data, round, i, inArena[i], kept[i])
				}
			}
			arena.Reuse()
		}
	})
}

// samePoint reports whether two points are equal, NaN-safe.
func samePoint(a, b *model.Point) bool {
	if a.Collection != b.Collection || a.Time != b.Time || !slices.Equal(a.Tags, b.Tags) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Key != b.Fields[i].Key || !a.Fields[i].Value.Equal(b.Fields[i].Value) {
			return false
		}
	}
	return true
}

// blankOrComments reports whether every line of data is empty, spaces, or
// a comment, so that Parse may return nothing.
func blankOrComments(data []byte) bool {
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		line = bytes.TrimLeft(line, " ")
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}
