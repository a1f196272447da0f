package coord

import "testing"

// FuzzDecodeGroup: decoding never panics, and what decodes re-encodes to
// a value that decodes the same.
func FuzzDecodeGroup(f *testing.F) {
	for _, s := range []string{
		`{"epoch":0}`, `{"primary":"a","epoch":3}`,
		`{"primary":"a","replicas":["b","c"],"epoch":7,"state":"moving","moving_to":"d"}`,
		`{"primary":"a","replicas":["a"],"epoch":1}`, `{"state":"moving"}`, `[]`, `{`, ``,
	} {
		f.Add(5, []byte(s))
	}
	f.Fuzz(func(t *testing.T, g int, b []byte) {
		gr, err := decodeGroup(g, b)
		if err != nil {
			return
		}
		gr2, err := decodeGroup(g, encodeGroup(gr))
		if err != nil || !gr2.equal(normal(gr)) {
			t.Fatalf("%s: %+v re-decodes as %+v, %v", b, gr, gr2, err)
		}
	})
}

// normal is a group as it re-decodes: no replicas reads as nil.
func normal(g Group) Group {
	if len(g.Replicas) == 0 {
		g.Replicas = nil
	}
	return g
}

func FuzzDecodeInfo(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"num_groups":16,"replication_factor":1,"shard_tag":"device_id"}`,
		`{"version":2,"num_groups":16,"replication_factor":1,"shard_tag":"x"}`,
		`{"version":1,"num_groups":0,"replication_factor":1,"shard_tag":"x"}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeInfo(b)
		if err != nil {
			return
		}
		if in2, err := decodeInfo(encodeInfo(in)); err != nil || in2 != in {
			t.Fatalf("%s: %+v re-decodes as %+v, %v", b, in, in2, err)
		}
	})
}

func FuzzDecodeNode(f *testing.F) {
	for _, s := range []string{`{"id":"n1","addr":"http://127.0.0.1:7001"}`, `{"id":"a/b"}`, `{"id":""}`, `7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeNode(b)
		if err != nil {
			return
		}
		if n2, err := decodeNode(encodeNode(n)); err != nil || n2 != n {
			t.Fatalf("%s: %+v re-decodes as %+v, %v", b, n, n2, err)
		}
	})
}

func FuzzParseGroupKey(f *testing.F) {
	for _, s := range []string{"0000", "0007", "9999", "12345", "-1", "+1", "", "1a", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, ok := parseGroupKey(s)
		if !ok {
			return
		}
		if g < 0 {
			t.Fatalf("%q parsed as %d", s, g)
		}
		if g2, ok := parseGroupKey(groupKey(g)[len(dirGroups):]); !ok || g2 != g {
			t.Fatalf("%q: %d does not round-trip", s, g)
		}
	})
}
