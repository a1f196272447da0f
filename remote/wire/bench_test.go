package wire

import (
	"fmt"
	"testing"

	"github.com/soltixdb/soltix/model"
)

// benchPoints are 10,000 points of 1,000 devices with 3 fields each, with
// tags not shared between points (as lineproto parses them).
func benchPoints() []model.Point {
	ps := make([]model.Point, 0, 10_000)
	for i := range 10 {
		for d := range 1000 {
			ps = append(ps, model.Point{
				Collection: "sensors",
				Tags:       model.Tags{{Key: "device_id", Value: fmt.Sprintf("dev-%04d", d)}, {Key: "site", Value: "plant-7"}},
				Fields: []model.Field{
					{Key: "temp", Value: model.Float(20 + float64(d%17)/3)},
					{Key: "count", Value: model.Int(int64(i * d))},
					{Key: "ok", Value: model.Bool(d%3 == 0)},
				},
				Time: 1_700_000_000_000_000_000 + int64(i)*1e9,
			})
		}
	}
	return ps
}

func BenchmarkAppendFrame(b *testing.B) {
	ps := benchPoints()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendFrame(buf[:0], 1, 1, ps); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/point")
}

func BenchmarkDecode(b *testing.B) {
	ps := benchPoints()
	buf, err := AppendFrame(nil, 1, 1, ps)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/point")
}

// benchColumn is a chunk of raw rows as a node sends them: 65,536 integer
// values 10 s apart, a small random walk (TSBS cpu-like).
func benchColumn() model.Column {
	c := model.Column{Name: "usage_user", Kind: model.KindInt}
	v := int64(50)
	for i := range 65536 {
		c.Times = append(c.Times, 1_700_000_000_000_000_000+int64(i)*10e9)
		v += int64(i*7919%3) - 1
		c.Ints = append(c.Ints, v)
	}
	return c
}

func BenchmarkColumnEncode(b *testing.B) {
	c := benchColumn()
	var e MsgEnc
	b.ReportAllocs()
	for b.Loop() {
		e.B = e.B[:0]
		e.Column(&c)
	}
	b.SetBytes(int64(len(e.B)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.Len()), "ns/value")
}

func BenchmarkColumnDecode(b *testing.B) {
	c := benchColumn()
	var e MsgEnc
	e.Column(&c)
	b.SetBytes(int64(len(e.B)))
	b.ReportAllocs()
	for b.Loop() {
		d := MsgDec{B: e.B}
		if d.Column(); d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.Len()), "ns/value")
}
