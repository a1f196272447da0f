package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const queryIntro = `Usage: soltix query [flags] 'SELECT ...'

Send one statement of the query language (docs/query.md) to a server and
print the answer: an aligned table and the row count by default, or the
server's JSON or CSV.
`

// queryCmd sends one query to a server and prints the answer.
func queryCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	def := os.Getenv("SOLTIX_SERVER")
	if def == "" {
		def = "http://127.0.0.1:5050"
	}
	server := fs.String("server", def, "send the query to the server at `URL` (SOLTIX_SERVER)")
	format := fs.String("format", "table", "print the answer as table, json or csv")
	epoch := fs.String("epoch", "", "print times as integers in `UNIT`s: ns, us, ms or s (default RFC 3339)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on the request after this long")
	if code, ok := parseFlags(fs, args, queryIntro, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		badUsage(stderr, "query", fmt.Sprintf("want one query, got %d arguments", fs.NArg()))
		return 2
	}
	v := url.Values{"q": {fs.Arg(0)}}
	switch *format {
	case "table", "json":
	case "csv":
		v.Set("format", "csv")
	default:
		badUsage(stderr, "query", fmt.Sprintf("unknown format %q (table, json or csv)", *format))
		return 2
	}
	if *epoch != "" {
		v.Set("epoch", *epoch)
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.PostForm(strings.TrimRight(*server, "/")+"/api/v1/query", v)
	if err != nil {
		fmt.Fprintln(stderr, "soltix query:", err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(stderr, "soltix query: read response:", err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			fmt.Fprintf(stderr, "soltix query: %s (HTTP %d)\n", e.Error, resp.StatusCode)
		} else {
			fmt.Fprintf(stderr, "soltix query: HTTP %d: %s\n", resp.StatusCode, bytes.TrimSpace(body))
		}
		return 1
	}
	if *format != "table" {
		stdout.Write(body)
		return 0
	}
	if err := printTable(stdout, body); err != nil {
		fmt.Fprintln(stderr, "soltix query:", err)
		return 1
	}
	return 0
}

// printTable prints a JSON query response as an aligned table followed by
// the row count.
func printTable(w io.Writer, body []byte) error {
	var res struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
	dashes := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		dashes[i] = strings.Repeat("-", len(c))
	}
	fmt.Fprintln(tw, strings.Join(dashes, "\t"))
	cells := make([]string, len(res.Columns))
	for _, row := range res.Rows {
		for i := range cells {
			cells[i] = ""
			if i < len(row) {
				switch v := row[i].(type) {
				case nil:
					cells[i] = "null"
				case string:
					cells[i] = v
				default:
					cells[i] = fmt.Sprint(v)
				}
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "rows"
	if len(res.Rows) == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(w, "(%d %s)\n", len(res.Rows), noun)
	return err
}
