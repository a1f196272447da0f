package remote

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"testing"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/planner"
	"github.com/soltixdb/soltix/query"
	"github.com/soltixdb/soltix/remote/wire"
)

// sessionSeeds are valid messages of every kind.
func sessionSeeds() [][]byte {
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	open := openMsg{Collection: "m", Flags: openSeries, Groups: []groupEpoch{{1, 2}, {5, 7}}, Lo: -5, Hi: math.MaxInt64, MaxPoints: 100}
	cat := catalogMsg{Exists: true, Fields: map[string]model.Kind{"f": model.KindFloat}, TagKeys: []string{"device_id"}, RawFrom: 9, Series: []model.Tags{tags}, Collections: []string{"m"}}
	fetch := fetchMsg{Whole: planner.WholeSpec{Kind: 1, Width: 3600, Lo: 0, Hi: 100}, Items: []planner.SeriesRead{{Tags: tags, Rows: 3,
		Values: []planner.FieldSpan{{Field: "f", Lo: 0, Hi: 9}}, Parts: []planner.PartSpan{{Field: "f", Lo: 0, Hi: 9, Level: model.Level1h}}}},
		Reduce: map[string]planner.Reduce{"f": planner.ReduceMinMax, "i": 0}}
	expl := explainMsg{Series: []model.Tags{tags}, Lo: 1, Hi: 2, Level: model.Level1d}
	var vals wire.MsgEnc
	vals.Uvarint(0)
	vals.Uvarint(1)
	vals.Uvarint(0)
	vals.Column(&model.Column{Name: "f", Kind: model.KindFloat, Times: []int64{1, 2}, Floats: []float64{1, 2}})
	vals.Varint(2)
	var parts wire.MsgEnc
	parts.Uvarint(0)
	parts.Uvarint(0)
	parts.Uvarint(2)
	parts.Part(&model.Part{Summary: &model.Summary{Count: 1, First: model.Float(1), Last: model.Float(1), Min: model.Float(1), Max: model.Float(1)}, Level: model.Level1h})
	parts.Part(&model.Part{Summary: &model.Summary{Count: 9, MinTime: 2, MaxTime: 3, First: model.Float(1), Last: model.Float(1), Min: model.Float(1), Max: model.Float(1)}, Reduced: true, Points: 1, Blocks: 2})
	fopen := open
	fopen.Where, fopen.Now = "(f > 90 OR device_id = 'd1') AND s =~ /a/ AND time >= now() - 1h", 5
	ffetch := fetchMsg{Desc: true, Items: []planner.SeriesRead{{Tags: tags, Values: []planner.FieldSpan{{Field: "f", Lo: 0, Hi: 9}, {Field: "s", Lo: 0, Hi: 9}}, Chunk: 3}},
		Filter: &planner.Filter{Fields: []string{"f", "s"}, Kinds: []model.Kind{model.KindFloat, model.KindString}, Lo: 0, Hi: 9, MaxChunk: 8}}
	var rows wire.MsgEnc
	(&rowsMsg{Item: 1, Lo: 0, Hi: 9, N: 3, Scan: planner.Scan{Rows: 3, Points: 5, First: 1, Last: 4}, Cols: []model.Column{
		{Name: "f", Kind: model.KindFloat, Times: []int64{2}, Floats: []float64{95}},
		{Name: "s", Kind: model.KindString, Times: []int64{2}, Strings: []string{"a"}}}}).encode(&rows)
	var end wire.MsgEnc
	end.Uvarint(0)
	end.Varint(0)
	end.Varint(9)
	return [][]byte{
		append([]byte{msgOpen}, open.encode()...),
		append([]byte{msgCatalog}, cat.encode()...),
		append([]byte{msgFetch}, fetch.encode()...),
		append([]byte{msgExplain}, expl.encode()...),
		append([]byte{msgExplained}, encodeReadPlan(&model.ReadPlan{Groups: []int{1}, Files: 2})...),
		append([]byte{msgError}, (&errorMsg{Code: codeLimit, Msg: "x"}).encode()...),
		append([]byte{msgValues}, vals.B...),
		append([]byte{msgParts}, parts.B...),
		append([]byte{msgSeriesEnd}, end.B...),
		{msgFetchEnd, 0},
		append([]byte{msgAggregate}, encodeFragmentRequest(fragmentRequestSeed())...),
		append([]byte{msgAggregated}, encodeFragment(&planner.Fragment{Matched: true, Groups: []planner.FragmentGroup{{Vals: []string{"a"},
			Buckets: []planner.FragmentBucket{{Lo: 1, Hi: 2, States: []planner.AggState{{N: 1}, {Seen: true, V: model.Int(3), Key: "m,a=b"}}}}}}})...),
		append([]byte{msgOpen}, fopen.encode()...),
		append([]byte{msgFetch}, ffetch.encode()...),
		append([]byte{msgRows}, rows.B...),
		append([]byte{msgFetch}, (&fetchMsg{Whole: zonedWhole, Items: fetch.Items}).encode()...),
	}
}

func fragmentRequestSeed() *planner.FragmentRequest {
	stmt, err := query.Parse("SELECT max(i), count(f) FROM m WHERE device_id = 'd1' AND time >= now() - 1h GROUP BY time(5m), region")
	if err != nil {
		panic(err)
	}
	return &planner.FragmentRequest{Select: stmt.Select, Fields: map[string]model.Kind{"i": model.KindInt, "f": model.KindFloat},
		Now: 1e18, MaxPoints: 100, Spent: 3}
}

// FuzzSessionMessages decodes arbitrary session messages on both ends: the
// node's decoders of the router's messages, the router's of the node's,
// and the router's filing of a fetch answer. None may panic; what decodes
// must encode back to a message that decodes the same.
func FuzzSessionMessages(f *testing.F) {
	for _, s := range sessionSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		typ, payload := data[0], data[1:]
		switch typ {
		case msgOpen:
			var m openMsg
			if m.decode(payload) == nil {
				var m2 openMsg
				if err := m2.decode(m.encode()); err != nil || m2.Where != m.Where {
					t.Fatalf("open does not round-trip: %v", err)
				}
				if m.Where != "" {
					_, _ = parseWhere(m.Where)
				}
			}
		case msgCatalog:
			var m catalogMsg
			if m.decode(payload) == nil {
				var m2 catalogMsg
				if err := m2.decode(m.encode()); err != nil {
					t.Fatalf("catalog does not round-trip: %v", err)
				}
			}
		case msgFetch:
			var m fetchMsg
			if m.decode(payload) == nil {
				var m2 fetchMsg
				if err := m2.decode(m.encode()); err != nil || len(m2.Items) != len(m.Items) || len(m2.Reduce) != len(m.Reduce) || (m2.Filter == nil) != (m.Filter == nil) {
					t.Fatalf("fetch does not round-trip: %v", err)
				}
				if m.Filter != nil {
					// The node compiles what decoded.
					ss := &nodeSession{open: &openMsg{}}
					ss.where, _ = parseWhere("(f > 90 OR device_id = 'd1') AND s =~ /a/ OR b = true")
					_, _ = ss.compileFilter(&m)
				}
			}
		case msgRows:
			var m rowsMsg
			if m.decode(payload) == nil {
				var e wire.MsgEnc
				m.encode(&e)
				var m2 rowsMsg
				if err := m2.decode(e.B); err != nil || !reflect.DeepEqual(m, m2) {
					t.Fatalf("rows do not round-trip: %v", err)
				}
			}
		case msgExplain:
			var m explainMsg
			_ = m.decode(payload)
		case msgExplained:
			_, _ = decodeReadPlan(payload)
		case msgAggregate:
			if r, err := decodeFragmentRequest(payload); err == nil {
				r2, err := decodeFragmentRequest(encodeFragmentRequest(r))
				if err != nil || r2.Select.String() != r.Select.String() || !maps.Equal(r2.Fields, r.Fields) {
					t.Fatalf("aggregate request does not round-trip: %v", err)
				}
			}
		case msgAggregated:
			if f, err := decodeFragment(payload); err == nil && f != nil {
				if _, err := decodeFragment(encodeFragment(f)); err != nil {
					t.Fatalf("fragment does not round-trip: %v", err)
				}
			}
		}
		// The router files any message as part of a fetch answer.
		tags := model.Tags{{Key: "device_id", Value: "d1"}}
		it := &fetchItem{sr: planner.SeriesRead{Tags: tags, Values: []planner.FieldSpan{{Field: "f", Lo: 0, Hi: 9}},
			Parts: []planner.PartSpan{{Field: "f", Lo: 0, Hi: 9, Level: model.Level1h}}}}
		it.vals = make([]model.Column, 1)
		it.cov = []coverage{{lo: 0, hi: 9}}
		it.parts = make([][]model.Part, 1)
		// and a series read filtered.
		fit := &fetchItem{sr: planner.SeriesRead{Tags: tags, Values: []planner.FieldSpan{{Field: "f", Lo: 0, Hi: 9}, {Field: "s", Lo: 0, Hi: 9}}, Chunk: 3}}
		fit.vals, fit.cov = make([]model.Column, 2), make([]coverage, 2)
		s := &session{node: "n", ctr: &nodeCounters{}, cancel: func() {}, items: []*fetchItem{it, fit}, reading: true}
		s.mr = wire.NewMessageReader(&countingReader{r: bytes.NewReader(wire.AppendMessage(nil, typ, payload)), n: &s.read}, maxSessionMsg)
		_ = s.step(context.Background())
	})
}

// TestFetchReduce: the fields a fetch may reduce travel after its items,
// and a fetch without them (as a router before them sends) asks for none.
func TestFetchReduce(t *testing.T) {
	tags := model.Tags{{Key: "device_id", Value: "d1"}}
	items := []planner.SeriesRead{{Tags: tags, Parts: []planner.PartSpan{{Field: "f", Lo: 0, Hi: 9}}}}
	for _, want := range []map[string]planner.Reduce{nil, {"f": 0, "g": planner.ReduceMinMax}, {"i": planner.ReduceIntAvg, "j": planner.ReduceIntAvg | planner.ReduceMinMax}} {
		m := fetchMsg{Items: items, Reduce: want}
		var got fetchMsg
		if err := got.decode(m.encode()); err != nil {
			t.Fatal(err)
		}
		if len(got.Reduce) != len(want) || !maps.Equal(got.Reduce, want) {
			t.Fatalf("reduce %v, want %v", got.Reduce, want)
		}
	}
	for _, r := range []byte{4, 9, 0x80} {
		bad := append((&fetchMsg{Items: items}).encode(), 1, 1, 'f', r)
		var m fetchMsg
		if err := m.decode(bad); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("reduce %d: %v, want malformed", r, err)
		}
	}
}
