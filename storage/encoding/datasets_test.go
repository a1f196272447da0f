package encoding

import (
	"math"
	"math/rand/v2"
)

// Synthetic data sets for compression figures. They model the two loads of
// DESIGN §8 closely enough to size the codecs, and are deterministic (fixed
// seeds) so figures are comparable between runs. `soltix bench` can reuse
// the same ideas: generate per-series columns, cut them into blocks, and
// count bytes per value with the timestamps counted once per column.

// column is one field of one series: its timestamps and its values, either
// integers or floats.
type column struct {
	field  string
	ts     []int64
	ints   []int64
	floats []float64
}

func (c *column) len() int { return len(c.ts) }

// t0 is 2016-01-01T00:00:00Z in nanoseconds, the start of TSBS data.
const t0 = int64(1_451_606_400) * 1e9

var cpuFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// cpuSet returns a TSBS-like cpu-only load: per host the ten cpu fields as
// integers in 0..100 doing a clamped random walk with steps in {-1, 0, +1}
// (the distribution e2e's ingest benchmark sends), one point every 10 s,
// no gaps. hosts·10 columns of points values each.
func cpuSet(hosts, points int) []column {
	r := rand.New(rand.NewPCG(1, 1))
	ts := make([]int64, points)
	for i := range ts {
		ts[i] = t0 + int64(i)*10e9
	}
	var cols []column
	for range hosts {
		for _, f := range cpuFields {
			vs := make([]int64, points)
			v := r.Int64N(100)
			for i := range vs {
				v = min(max(v+r.Int64N(3)-1, 0), 100)
				vs[i] = v
			}
			cols = append(cols, column{field: f, ts: ts, ints: vs})
		}
	}
	return cols
}

// iotSet returns an IoT-like load with the default timestamp jitter: 10%
// of points off the 10 s grid by 1..50 ms. See iotSetJitter.
func iotSet(trucks, points int) []column {
	return iotSetJitter(trucks, points, 0.10)
}

// iotSetJitter returns an IoT-like load: per truck five float fields read
// every 10 s, with about 2% of points missing (all fields at once) and a
// fraction jitter of timestamps moved off the grid by ±1..50 ms (whole
// milliseconds, nanosecond timestamps). Each truck drives with a speed
// (random walk, N(0, 1.5) km/h per step, 0..110, with stops) and a heading
// (N(0, 3)° per step); the fields are what its sensors report, rounded as
// text would carry them:
//
//	latitude, longitude  position from speed and heading, 5 decimals
//	velocity             km/h, 1 decimal
//	fuel                 %, 1 decimal, falls with distance, refuelled below 10
//	temperature          °C, 2 decimals, random walk N(0, 0.03) per step
//
// Values are produced as m/10^d from an integer m, which is bit-identical
// to parsing the decimal text.
func iotSetJitter(trucks, points int, jitter float64) []column {
	r := rand.New(rand.NewPCG(2, 2))
	dec := func(v float64, d int) float64 {
		p := math.Pow10(d)
		return math.Round(v*p) / p
	}
	var cols []column
	for range trucks {
		lat := 30 + r.Float64()*20
		lon := -120 + r.Float64()*50
		speed := r.Float64() * 90
		heading := r.Float64() * 360
		fuel := 20 + r.Float64()*80
		temp := 15 + r.Float64()*10
		stopped := 0
		var ts []int64
		fields := make([][]float64, 5)
		for i := range points {
			// Advance the truck every step, reported or not.
			if stopped > 0 {
				stopped--
				speed = 0
			} else {
				speed = min(max(speed+r.NormFloat64()*1.5, 0), 110)
				if r.IntN(500) == 0 {
					stopped = 30 + r.IntN(200)
				}
			}
			heading = math.Mod(heading+r.NormFloat64()*3+360, 360)
			dist := speed / 3.6 * 10 // metres in 10 s
			rad := heading * math.Pi / 180
			lat += dist * math.Cos(rad) / 111_320
			lon += dist * math.Sin(rad) / (111_320 * math.Cos(lat*math.Pi/180))
			fuel -= dist * 0.00004
			if fuel < 10 {
				fuel = 100
			}
			temp = min(max(temp+r.NormFloat64()*0.03, -20), 50)
			if r.Float64() < 0.02 {
				continue // missing point
			}
			t := t0 + int64(i)*10e9
			if r.Float64() < jitter {
				j := 1 + r.Int64N(50)
				if r.IntN(2) == 0 {
					j = -j
				}
				t += j * 1e6
			}
			ts = append(ts, t)
			fields[0] = append(fields[0], dec(lat, 5))
			fields[1] = append(fields[1], dec(lon, 5))
			fields[2] = append(fields[2], dec(speed, 1))
			fields[3] = append(fields[3], dec(fuel, 1))
			fields[4] = append(fields[4], dec(temp, 2))
		}
		for f, name := range []string{"latitude", "longitude", "velocity", "fuel", "temperature"} {
			cols = append(cols, column{field: name, ts: ts, floats: fields[f]})
		}
	}
	return cols
}

// blockSizes is the encoded size of a set cut into blocks of block values
// per column, split into times and values, timestamps counted once per
// column (each column stores its own).
type blockSizes struct {
	values      int
	blocks      int
	times, vals int
}

func (s blockSizes) perValue() float64      { return float64(s.times+s.vals) / float64(s.values) }
func (s blockSizes) timesPerValue() float64 { return float64(s.times) / float64(s.values) }
func (s blockSizes) valsPerValue() float64  { return float64(s.vals) / float64(s.values) }

// encodeSet encodes every column of cols in blocks of block values; when
// field is non-empty only that field's columns count.
func encodeSet(cols []column, block int, field string) blockSizes {
	var s blockSizes
	var buf []byte
	for _, c := range cols {
		if field != "" && c.field != field {
			continue
		}
		for lo := 0; lo < c.len(); lo += block {
			hi := min(lo+block, c.len())
			buf = AppendTimes(buf[:0], c.ts[lo:hi])
			s.times += len(buf)
			if c.ints != nil {
				buf = AppendInts(buf[:0], c.ints[lo:hi])
			} else {
				buf = AppendFloats(buf[:0], c.floats[lo:hi])
			}
			s.vals += len(buf)
			s.values += hi - lo
			s.blocks++
		}
	}
	return s
}
