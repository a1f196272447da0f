// Package bench is `soltix bench`: it generates TSBS-like data sets (or
// reads line protocol from a file), loads them over HTTP with concurrent
// clients, runs query suites equivalent to TSBS's devops queries plus
// long-range rollup queries, and summarises throughput and latency.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Data is a data set split into batches of line protocol, ready to send.
type Data struct {
	Name    string
	Batches [][]byte
	Lines   int
	Values  int
	Bytes   int
	// Start and End bound the data's times; Hosts names the devices (host
	// or truck names), for the query suites.
	Start, End  time.Time
	Hosts       []string
	Measurement string
	Fields      []string
	DeviceTag   string
}

// GenConfig describes a generated data set.
type GenConfig struct {
	Hosts    int
	Start    time.Time
	Duration time.Duration
	Interval time.Duration
	Batch    int // lines per batch
	Seed     uint64
}

// Facts about TSBS's cpu-only set: the tag values it draws from.
var (
	cpuRegions = []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
		"ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}
	cpuOS      = []string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}
	cpuArch    = []string{"x86", "x64"}
	cpuTeam    = []string{"SF", "NYC", "LON", "CHI"}
	cpuEnv     = []string{"production", "staging", "test"}
	cpuMetrics = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
		"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
)

// batcher cuts appended lines into batches.
type batcher struct {
	d     *Data
	size  int
	buf   []byte
	lines int
}

func (b *batcher) line(l []byte) {
	b.buf = append(b.buf, l...)
	b.lines++
	b.d.Lines++
	b.d.Bytes += len(l)
	if b.lines == b.size {
		b.cut()
	}
}

func (b *batcher) cut() {
	if b.lines > 0 {
		b.d.Batches = append(b.d.Batches, b.buf)
		b.buf = make([]byte, 0, cap(b.buf))
		b.lines = 0
	}
}

// GenerateCPU builds TSBS's cpu-only shape: per host ten small-integer
// random-walk metrics every interval, with TSBS's ten tags, in time order
// then host order, one line per host and time.
func GenerateCPU(cfg GenConfig) *Data {
	r := rand.New(rand.NewPCG(cfg.Seed, 0xc9))
	d := &Data{Name: "cpu-only", Start: cfg.Start, End: cfg.Start.Add(cfg.Duration),
		Measurement: "cpu", Fields: cpuMetrics, DeviceTag: "hostname"}
	tags := make([]string, cfg.Hosts)
	vals := make([][]float64, cfg.Hosts)
	for h := range cfg.Hosts {
		region := cpuRegions[r.IntN(len(cpuRegions))]
		name := "host_" + strconv.Itoa(h)
		d.Hosts = append(d.Hosts, name)
		tags[h] = fmt.Sprintf("cpu,hostname=%s,region=%s,datacenter=%s%c,rack=%d,os=%s,arch=%s,team=%s,service=%d,service_version=%d,service_environment=%s ",
			name, region, region, 'a'+rune(r.IntN(3)), r.IntN(100), cpuOS[r.IntN(len(cpuOS))], cpuArch[r.IntN(len(cpuArch))],
			cpuTeam[r.IntN(len(cpuTeam))], r.IntN(20), r.IntN(2), cpuEnv[r.IntN(len(cpuEnv))])
		vals[h] = make([]float64, len(cpuMetrics))
		for m := range vals[h] {
			vals[h][m] = r.Float64() * 100
		}
	}
	b := &batcher{d: d, size: cfg.Batch, buf: make([]byte, 0, cfg.Batch*340)}
	line := make([]byte, 0, 512)
	for t := cfg.Start; t.Before(d.End); t = t.Add(cfg.Interval) {
		ts := t.UnixNano()
		for h := range cfg.Hosts {
			line = append(line[:0], tags[h]...)
			for m, name := range cpuMetrics {
				// TSBS's cpu metrics are random walks with normally
				// distributed steps (σ = 1) clamped to [0, 100];
				// written here as integers.
				v := max(0, min(100, vals[h][m]+r.NormFloat64()))
				vals[h][m] = v
				if m > 0 {
					line = append(line, ',')
				}
				line = append(line, name...)
				line = append(line, '=')
				line = strconv.AppendInt(line, int64(math.Round(v)), 10)
				line = append(line, 'i')
			}
			line = append(line, ' ')
			line = strconv.AppendInt(line, ts, 10)
			line = append(line, '\n')
			b.line(line)
			d.Values += len(cpuMetrics)
		}
	}
	b.cut()
	return d
}

var (
	truckFleets  = []string{"East", "West", "North", "South"}
	truckDrivers = []string{"Albert", "Derek", "Rodney", "Seth", "Trish"}
	truckModels  = []string{"F-150", "G-2000", "H-2"}
	truckDevices = []string{"v1.0", "v1.5", "v2.0"}
	truckFields  = []string{"latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"}
)

// GenerateIoT builds an IoT-like set in the spirit of TSBS's trucks: per
// truck seven float readings every interval, each a random walk with a
// physically plausible step at the sensor's resolution (position to 5
// decimals moving about 20 m per reading, elevation to 0.1 m, velocity to
// 0.1 km/h, heading in whole degrees, grade and fuel consumption to one
// decimal), timestamped by the device's clock in milliseconds with up to
// a tenth of the interval of jitter. About 1% of readings never arrive, 3%
// lack some fields, and 5% arrive late, a few batches after their time.
func GenerateIoT(cfg GenConfig) *Data {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x107))
	d := &Data{Name: "iot", Start: cfg.Start, End: cfg.Start.Add(cfg.Duration),
		Measurement: "readings", Fields: truckFields, DeviceTag: "name"}
	tags := make([]string, cfg.Hosts)
	vals := make([][]float64, cfg.Hosts)
	scale := []float64{1e5, 1e5, 10, 10, 1, 10, 10}           // resolution per field
	step := []float64{0.0002, 0.0002, 0.5, 1, 2, 0.2, 0.5}    // σ of a step per field
	lo := []float64{-90, -180, -100, 0, math.Inf(-1), -15, 0} // clamps
	hi := []float64{90, 180, 5000, 120, math.Inf(1), 15, 60}
	for h := range cfg.Hosts {
		name := "truck_" + strconv.Itoa(h)
		d.Hosts = append(d.Hosts, name)
		tags[h] = fmt.Sprintf("readings,name=%s,fleet=%s,driver=%s,model=%s,device_version=%s ", name,
			truckFleets[r.IntN(len(truckFleets))], truckDrivers[r.IntN(len(truckDrivers))],
			truckModels[r.IntN(len(truckModels))], truckDevices[r.IntN(len(truckDevices))])
		vals[h] = []float64{r.Float64()*120 - 60, r.Float64()*360 - 180, r.Float64() * 500, r.Float64() * 100,
			r.Float64() * 360, r.Float64()*10 - 5, r.Float64()*30 + 10}
	}
	b := &batcher{d: d, size: cfg.Batch, buf: make([]byte, 0, cfg.Batch*200)}
	type lateLine struct {
		due  int // emit once this many lines have been written
		line []byte
	}
	var late []lateLine
	line := make([]byte, 0, 512)
	jitterMs := max(int64(cfg.Interval/time.Millisecond)/10, 1)
	for t := cfg.Start; t.Before(d.End); t = t.Add(cfg.Interval) {
		for h := range cfg.Hosts {
			if r.IntN(100) == 0 {
				continue // never arrives
			}
			line = append(line[:0], tags[h]...)
			n := 0
			for f := range truckFields {
				v := vals[h][f] + r.NormFloat64()*step[f]
				if f == 4 { // heading wraps
					v = math.Mod(v+360, 360)
				}
				vals[h][f] = max(lo[f], min(hi[f], v))
				if r.IntN(100) < 3 && f > 0 {
					continue // a missing field
				}
				if n > 0 {
					line = append(line, ',')
				}
				line = append(line, truckFields[f]...)
				line = append(line, '=')
				v = math.Round(vals[h][f]*scale[f]) / scale[f]
				line = strconv.AppendFloat(line, v, 'f', -1, 64)
				n++
			}
			d.Values += n
			line = append(line, ' ')
			line = strconv.AppendInt(line, t.UnixNano()+r.Int64N(jitterMs)*int64(time.Millisecond), 10)
			line = append(line, '\n')
			if r.IntN(100) < 5 {
				late = append(late, lateLine{due: d.Lines + 3*cfg.Batch, line: append([]byte(nil), line...)})
				continue
			}
			b.line(line)
			for len(late) > 0 && late[0].due <= d.Lines {
				b.line(late[0].line)
				late = late[1:]
			}
		}
	}
	for _, l := range late {
		b.line(l.line)
	}
	b.cut()
	return d
}

// ReadFile reads line protocol from r into batches. Field values are
// counted roughly (commas in the field set of each line, plus one).
func ReadFile(name string, r io.Reader, batch int) (*Data, error) {
	d := &Data{Name: name}
	b := &batcher{d: d, size: batch, buf: make([]byte, 0, 1<<20)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var line []byte
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		d.Values += countFields(l)
		line = append(append(line[:0], l...), '\n')
		b.line(line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b.cut()
	return d, nil
}

// countFields counts the fields of a line-protocol line: the commas of its
// second space-separated section (outside quotes and escapes), plus one.
func countFields(l []byte) int {
	section, n, quoted := 0, 1, false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c == '\\':
			i++
		case c == '"' && section == 1:
			quoted = !quoted
		case quoted:
		case c == ' ':
			section++
		case c == ',' && section == 1:
			n++
		}
	}
	return n
}
