package storage

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/soltixdb/soltix/model"
)

// TestColArena checks that the columns an arena hands out do not share
// memory until reset, that reset hands the same memory out again, that a
// nil arena allocates, and that trim drops only a buffer grown too big.
func TestColArena(t *testing.T) {
	var a colArena
	kinds := []model.Kind{model.KindFloat, model.KindInt, model.KindUint, model.KindBool, model.KindString}
	fill := func() []model.Column {
		var cols []model.Column
		for i, n := range []int{1, 5, 300, arenaMinWords, 17} {
			kind := kinds[i%len(kinds)]
			c := a.column("c", kind, n)
			if c.Len() != 0 || cap(c.Times) != n {
				t.Fatalf("column of %d: len %d cap %d", n, c.Len(), cap(c.Times))
			}
			for k := range n {
				v := model.Value{}
				switch kind {
				case model.KindFloat:
					v = model.Float(float64(i*1000 + k))
				case model.KindInt:
					v = model.Int(int64(i*1000 + k))
				case model.KindUint:
					v = model.Uint(uint64(i*1000 + k))
				case model.KindBool:
					v = model.Bool(k%3 == i%2)
				default:
					v = model.String(fmt.Sprint(k))
				}
				c.Append(int64(i*1000+k), v)
			}
			if cap(c.Times) != n {
				t.Fatalf("column of %d grew past its room: cap %d", n, cap(c.Times))
			}
			cols = append(cols, c)
		}
		return cols
	}
	check := func(cols []model.Column) {
		for i, c := range cols {
			for k := range c.Len() {
				if c.Times[k] != int64(i*1000+k) {
					t.Fatalf("column %d value %d: time %d, overwritten", i, k, c.Times[k])
				}
				switch c.Kind {
				case model.KindFloat:
					if c.Floats[k] != float64(i*1000+k) {
						t.Fatalf("column %d value %d overwritten: %v", i, k, c.Floats[k])
					}
				case model.KindInt:
					if c.Ints[k] != int64(i*1000+k) {
						t.Fatalf("column %d value %d overwritten: %v", i, k, c.Ints[k])
					}
				case model.KindUint:
					if c.Uints[k] != uint64(i*1000+k) {
						t.Fatalf("column %d value %d overwritten: %v", i, k, c.Uints[k])
					}
				case model.KindBool:
					if c.Bools[k] != (k%3 == i%2) {
						t.Fatalf("column %d value %d overwritten", i, k)
					}
				}
			}
		}
	}
	check(fill()) // grows the arena to what a fill takes
	a.reset()
	second := fill()
	check(second)
	a.reset()
	third := fill()
	check(third)
	for i := range third {
		if third[i].Kind != model.KindString && unsafe.SliceData(third[i].Times) != unsafe.SliceData(second[i].Times) {
			t.Errorf("column %d: after reset the arena did not hand out the same memory again", i)
		}
	}
	var none *colArena
	if c := none.column("c", model.KindInt, 4); cap(c.Ints) != 4 || cap(c.Times) != 4 {
		t.Errorf("nil arena: column with room %d, %d", cap(c.Times), cap(c.Ints))
	}
	a.trim()
	if a.words == nil {
		t.Error("trim dropped a buffer under arenaKeepWords")
	}
	a.reset()
	a.take(arenaKeepWords + 1)
	a.trim()
	if a.words != nil {
		t.Error("trim kept a buffer over arenaKeepWords")
	}
}

// TestFlushArenaAcrossGroups writes values of every kind out of time
// order (late batches, overwrites) to series in every group, flushes
// three times with writes in between, and reads every series back
// against what was written: the flush's sorted copies share one arena
// across groups and flushes, and no file may hold another group's or an
// earlier flush's values.
func TestFlushArenaAcrossGroups(t *testing.T) {
	db := openTest(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	type key struct {
		dev   string
		field string
	}
	want := make(map[key]map[int64]model.Value)
	fields := []string{"f", "i", "u", "b", "s"}
	value := func(field string) model.Value {
		switch field {
		case "f":
			return model.Float(r.NormFloat64())
		case "i":
			return model.Int(r.Int64N(1000))
		case "u":
			return model.Uint(r.Uint64N(1000))
		case "b":
			return model.Bool(r.IntN(2) == 0)
		}
		return model.String(fmt.Sprint(r.IntN(1000)))
	}
	devs := 24
	for round := range 3 {
		for batch := range 30 {
			var pts []model.Point
			// Batches of ten times, every other one late: before the
			// batch written just before it.
			b := round*30 + batch
			if batch%2 == 1 {
				b--
			} else if batch+1 < 30 {
				b++
			}
			for d := range devs {
				for k := range 10 {
					tm := int64(b*10+k) * int64(time.Second)
					p := pt("c", fmt.Sprintf("d%d", d), tm)
					for _, f := range fields {
						if r.IntN(5) == 0 {
							continue
						}
						v := value(f)
						p.Fields = append(p.Fields, model.Field{Key: f, Value: v})
						kk := key{fmt.Sprintf("d%d", d), f}
						if want[kk] == nil {
							want[kk] = make(map[int64]model.Value)
						}
						want[kk][tm] = v
					}
					if len(p.Fields) > 0 {
						pts = append(pts, p)
					}
				}
			}
			if err := db.Write(ctx, pts); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for d := range devs {
		dev := fmt.Sprintf("d%d", d)
		got := readAll(t, db, "c", model.Tags{{Key: "device_id", Value: dev}}, fields...)
		for _, f := range fields {
			w := want[key{dev, f}]
			g := got[f]
			if len(g) != len(w) {
				t.Fatalf("%s %s: %d values, want %d", dev, f, len(g), len(w))
			}
			for tm, v := range w {
				if gv, ok := g[tm]; !ok || gv != v && !(v.Kind == model.KindFloat && math.IsNaN(v.Float())) {
					t.Fatalf("%s %s at %d: %v, want %v", dev, f, tm, gv, v)
				}
			}
		}
	}
}
