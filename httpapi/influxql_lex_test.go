package httpapi

import (
	"strings"
	"testing"
)

// TestRewriteSelect checks the InfluxQL spellings that rewriteSelect
// turns into Soltix's: the queries are the shapes Grafana's InfluxQL
// query builder and Influx clients send.
func TestRewriteSelect(t *testing.T) {
	tests := []struct {
		in, want string
		err      string
	}{
		{in: `SELECT mean("value") FROM "cpu" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s) fill(null)`,
			want: `SELECT mean("value") FROM "cpu" WHERE time >= 1700000000000000000 and time <= 1700003600000000000 GROUP BY time(10s) fill(null)`},
		{in: `SELECT mean("value") FROM "autogen"."cpu" WHERE ("host"::tag = 'a') AND time >= 1s GROUP BY time(1m), "host"::tag fill(none)`,
			want: `SELECT mean("value") FROM "cpu" WHERE ("host" = 'a') AND time >= 1000000000 GROUP BY time(1m), "host" fill(none)`},
		{in: `SELECT "v"::field FROM "db"."rp"."m"`, want: `SELECT "v" FROM "m"`},
		{in: `SELECT v FROM db..m WHERE time > now() - 1h`, want: `SELECT v FROM "m" WHERE time > now() - 1h`},
		{in: `SELECT v FROM rp.m LIMIT 3`, want: `SELECT v FROM "m" LIMIT 3`},
		{in: `SELECT v FROM "we""ird"`, want: `SELECT v FROM "we""ird"`},
		{in: `SELECT v FROM "a\"b" WHERE time < 5u`, want: `SELECT v FROM "a\"b" WHERE time < 5000`},
		{in: `SELECT v / 2 FROM m WHERE host =~ /a;b/`, want: `SELECT v / 2 FROM "m" WHERE host =~ /a;b/`},
		{in: `SELECT v FROM m WHERE time >= 9223372036854775807ms`, err: "out of range"},
		{in: `SELECT v FROM /cpu.*/`, err: "FROM with a regular expression"},
		{in: `SELECT v FROM a, b`, err: "more than one measurement"},
		{in: `SELECT v INTO x FROM m`, err: "INTO is not supported"},
		{in: `SELECT v FROM m SLIMIT 1`, err: "SLIMIT is not supported"},
		{in: `SELECT mean(m) FROM (SELECT max(v) AS m FROM dev GROUP BY 1h)`, want: `SELECT mean(m) FROM (SELECT max(v) AS m FROM "dev" GROUP BY 1h)`},
	}
	for _, tc := range tests {
		sts, err := lexInfluxQL(tc.in)
		if err != nil {
			t.Fatalf("lex %q: %v", tc.in, err)
		}
		got, err := rewriteSelect(sts[0])
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got %q, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestLexInfluxQL checks statement splitting: semicolons inside quotes
// and regexes do not split, comments are skipped, and the bounds hold.
func TestLexInfluxQL(t *testing.T) {
	tests := []struct {
		in   string
		want []string // the statements' texts, trimmed
		err  string
	}{
		{in: "SHOW DATABASES; SHOW MEASUREMENTS", want: []string{"SHOW DATABASES", "SHOW MEASUREMENTS"}},
		{in: `SELECT "a;b" FROM m WHERE t = 'x;y' AND h =~ /1;2/;;`, want: []string{`SELECT "a;b" FROM m WHERE t = 'x;y' AND h =~ /1;2/`}},
		{in: "-- a comment; still\nSHOW DATABASES", want: []string{"SHOW DATABASES"}},
		{in: " ; ; ", err: "missing"},
		{in: `SELECT 'x`, err: "unterminated quoted string"},
		{in: `SHOW MEASUREMENTS WITH MEASUREMENT =~ /x`, err: "unterminated quoted regex"},
		{in: strings.Repeat("a ", maxInfluxTokens+1), err: "too long"},
		{in: strings.Repeat("SHOW DATABASES;", maxInfluxStatements+1), err: "more than 100 statements"},
	}
	for _, tc := range tests {
		sts, err := lexInfluxQL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.40q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var got []string
		for _, st := range sts {
			got = append(got, strings.TrimSpace(st.text))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: statements %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzInfluxQL feeds arbitrary text to the InfluxQL reader: lexing and
// preparing every statement must not panic, and a statement prepared must
// be one of the three kinds.
func FuzzInfluxQL(f *testing.F) {
	for _, s := range []string{
		`SELECT mean("value") FROM "autogen"."cpu" WHERE ("host"::tag = 'a') AND time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s), "host"::tag fill(null)`,
		`SHOW TAG VALUES FROM "cpu", /m.*/ WITH KEY IN ("host", 'region') LIMIT 2 OFFSET 1`,
		`SHOW MEASUREMENTS WITH MEASUREMENT =~ /a\/b/; SHOW RETENTION POLICIES ON "x"`,
		`CREATE DATABASE "a\"b" WITH DURATION 1d; DROP DATABASE x; SHOW DATABASES`,
		`SELECT v FROM db..m WHERE time > now() - 1h -- comment`,
		`SHOW SERIES FROM "a"."b"."c"`, `SELECT 'x`, `/`, `FROM /`, `"."."."`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sts, err := lexInfluxQL(q)
		if err != nil {
			return
		}
		if len(sts) > maxInfluxStatements {
			t.Fatalf("%d statements", len(sts))
		}
		for _, st := range sts {
			if len(st.toks) == 0 || len(st.toks) > maxInfluxTokens {
				t.Fatalf("statement with %d tokens", len(st.toks))
			}
			p, err := prepareInflux(st)
			if err != nil {
				continue
			}
			n := 0
			for _, set := range []bool{p.db != nil, p.show != nil, p.stmt != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%q prepared as %d kinds", st.text, n)
			}
		}
	})
}
