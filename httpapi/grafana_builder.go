// The Grafana query builder: structured targets (collection, fields, aggregates, tag filters) turned into statements.

package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/soltixdb/soltix/model"
	"github.com/soltixdb/soltix/query"
)

// gfStructured builds the SELECT of a structured target: the collection
// and a payload of
//
//	field      field name(s); default: every numeric field
//	aggregate  avg, min, max, sum, count, first, last, spread, stddev, pNN
//	           (percentile NN), or several; default avg (last for fields
//	           that are not numeric)
//	groupBy    tag key(s)
//	tag.<key>  value(s) the tag must have; /re/ matches a regular expression
//	where      a condition ANDed to the WHERE clause
//	interval   GROUP BY interval; default: from intervalMs and maxDataPoints
//	fill       null, none, previous, linear or a number
func (s *server) gfStructured(coll string, payload map[string]any, env *gfEnv, filters []gfAdhocFilter) (*query.Statement, *gfError) {
	if strings.HasPrefix(coll, `"`) && strings.HasSuffix(coll, `"`) && len(coll) >= 2 {
		coll = coll[1 : len(coll)-1]
	}
	fields, ok := s.store.Fields(coll)
	if !ok {
		return nil, &gfError{http.StatusNotFound, fmt.Sprintf("collection %q not found", coll)}
	}
	if !env.hasRange {
		return nil, gfBadRequest("a structured target needs the request's range")
	}
	names := payloadList(payload[gfField], true)
	if len(names) == 0 {
		for _, f := range sortedFieldNames(fields) {
			if fields[f].Numeric() {
				names = append(names, f)
			}
		}
		if len(names) == 0 {
			return nil, gfBadRequest("collection %q has no numeric field: set payload.field", coll)
		}
	}
	aggs := payloadList(payload[gfAggregate], true)
	sel := &query.Select{From: coll}
	for _, f := range names {
		list := aggs
		if len(list) == 0 {
			list = []string{"avg"}
			if k, ok := fields[f]; ok && !k.Numeric() {
				list = []string{"last"}
			}
		}
		for _, a := range list {
			it, err := gfAggItem(f, a)
			if err != nil {
				return nil, gfBadRequest("payload.aggregate: %v", err)
			}
			sel.Items = append(sel.Items, it)
		}
	}

	where := andExprs(
		&query.Compare{Name: "time", Op: ">=", Value: query.Literal{Kind: query.LitString, Str: formatNanos(env.from)}},
		&query.Compare{Name: "time", Op: "<=", Value: query.Literal{Kind: query.LitString, Str: formatNanos(env.to)}},
	)
	var keys []string
	for k := range payload {
		if strings.HasPrefix(k, gfTagPrefix) && len(k) > len(gfTagPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		e, err := gfTagCondition(strings.TrimPrefix(k, gfTagPrefix), payloadList(payload[k], false))
		if err != nil {
			return nil, gfBadRequest("payload.%s: %v", k, err)
		}
		where = andExprs(where, e)
	}
	if cond := payloadString(payload[gfWhere]); cond != "" {
		e, err := parseCondition(cond)
		if err != nil {
			return nil, gfBadRequest("payload.where: %v", err)
		}
		where = andExprs(where, e)
	}
	fs, ge := s.gfFilterExprs(coll, filters)
	if ge != nil {
		return nil, ge
	}
	sel.Where = andExprs(append([]query.Expr{where}, fs...)...)

	iv := env.interval
	if v := payloadString(payload[gfInterval]); v != "" && v != "auto" && v != "$__interval" {
		d, ok := parseGrafanaDuration(v)
		if !ok {
			return nil, gfBadRequest("payload.interval %q: want a duration such as 30s, 5m, 1h, 1d or 1M, or auto", v)
		}
		iv = d
	}
	sel.GroupBy = &iv
	sel.GroupTags = payloadList(payload[gfGroupBy], true)
	fill, err := parseGrafanaFill(payloadString(payload[gfFill]))
	if err != nil {
		return nil, gfBadRequest("payload.fill: %v", err)
	}
	sel.Fill = fill
	return &query.Statement{Select: sel}, nil
}

// gfAggItem is agg(field); pNN is percentile(field, NN).
func gfAggItem(field, agg string) (query.Item, error) {
	a := strings.ToLower(strings.TrimSpace(agg))
	if a == "mean" {
		a = "avg"
	}
	if strings.HasPrefix(a, "p") && len(a) > 1 {
		p, err := strconv.ParseFloat(a[1:], 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return query.Item{}, fmt.Errorf("%q: a percentile is p0 … p100, e.g. p95", agg)
		}
		return query.Item{Func: "percentile", Field: field, Arg: p}, nil
	}
	if a == "percentile" || !slices.Contains(query.Aggregates, a) {
		return query.Item{}, fmt.Errorf("unknown aggregate %q (known: %s, p<N>)", agg, strings.Join(gfAggregates[:9], ", "))
	}
	return query.Item{Func: a, Field: field}, nil
}

var gfDurationRe = regexp.MustCompile(`^([0-9]+)(ns|us|µs|ms|s|m|h|d|w|M|y)$`)

var gfUnits = map[string]query.Unit{
	"ns": query.Nanosecond, "us": query.Microsecond, "µs": query.Microsecond, "ms": query.Millisecond,
	"s": query.Second, "m": query.Minute, "h": query.Hour, "d": query.Day, "w": query.Week,
	"M": query.Month, "y": query.Year,
}

// parseGrafanaDuration reads a duration literal such as 30s or 1M.
func parseGrafanaDuration(s string) (query.Duration, bool) {
	m := gfDurationRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return query.Duration{}, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return query.Duration{}, false
	}
	return query.Duration{N: n, Unit: gfUnits[m[2]]}, true
}

func parseGrafanaFill(s string) (query.Fill, error) {
	switch strings.ToLower(s) {
	case "", "null":
		return query.Fill{Mode: query.FillNull}, nil
	case "none":
		return query.Fill{Mode: query.FillNone}, nil
	case "previous":
		return query.Fill{Mode: query.FillPrevious}, nil
	case "linear":
		return query.Fill{Mode: query.FillLinear}, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return query.Fill{}, fmt.Errorf("%q: want null, none, previous, linear or a number", s)
	}
	return query.Fill{Mode: query.FillValue, Value: v}, nil
}

// gfTagCondition is key IN (values...), OR key =~ /re/ for values written
// as /re/.
func gfTagCondition(key string, values []string) (query.Expr, error) {
	var plain []query.Literal
	var exprs []query.Expr
	for _, v := range values {
		if len(v) >= 2 && strings.HasPrefix(v, "/") && strings.HasSuffix(v, "/") {
			lit, err := regexLiteral(v[1 : len(v)-1])
			if err != nil {
				return nil, err
			}
			exprs = append(exprs, &query.Compare{Name: key, Op: "=~", Value: lit})
			continue
		}
		plain = append(plain, query.Literal{Kind: query.LitString, Str: v})
	}
	switch len(plain) {
	case 0:
	case 1:
		exprs = append([]query.Expr{&query.Compare{Name: key, Op: "=", Value: plain[0]}}, exprs...)
	default:
		exprs = append([]query.Expr{&query.In{Name: key, Values: plain}}, exprs...)
	}
	var e query.Expr
	for _, x := range exprs {
		if e == nil {
			e = x
		} else {
			e = &query.Binary{Op: "OR", LHS: e, RHS: x}
		}
	}
	return e, nil
}

func regexLiteral(src string) (query.Literal, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return query.Literal{}, fmt.Errorf("bad regular expression %q: %s", src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return query.Literal{Kind: query.LitRegex, Str: src, Regex: re}, nil
}

// parseCondition parses a WHERE condition on its own.
func parseCondition(cond string) (query.Expr, error) {
	const prefix = "SELECT count(x) FROM x WHERE "
	stmt, err := query.Parse(prefix + cond)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) && qe.Pos.Line == 1 && qe.Pos.Column > len(prefix) {
			return nil, fmt.Errorf("column %d: %s", qe.Pos.Column-len(prefix), qe.Message)
		}
		if errors.As(err, &qe) {
			return nil, errors.New(qe.Message)
		}
		return nil, err
	}
	sel := stmt.Select
	if sel == nil || sel.Where == nil || sel.GroupBy != nil || len(sel.GroupTags) > 0 || sel.Limit != 0 || sel.Offset != 0 || sel.Desc || sel.Fill.Mode != query.FillNull {
		return nil, fmt.Errorf("%q is not a condition", cond)
	}
	return sel.Where, nil
}

// andExprs joins the non-nil expressions with AND.
func andExprs(es ...query.Expr) query.Expr {
	var out query.Expr
	for _, e := range es {
		switch {
		case e == nil:
		case out == nil:
			out = e
		default:
			out = &query.Binary{Op: "AND", LHS: out, RHS: e}
		}
	}
	return out
}

// gfFilterExprs turns the ad-hoc filters into conditions on collection
// coll, to be joined with AND. Filters on keys the collection has neither as a tag nor as a
// field are left out: a dashboard's filters apply to the panels they make
// sense for.
func (s *server) gfFilterExprs(coll string, filters []gfAdhocFilter) ([]query.Expr, *gfError) {
	if len(filters) == 0 {
		return nil, nil
	}
	fields, _ := s.store.Fields(coll)
	tags := s.store.TagKeys(coll)
	var out []query.Expr
	for _, f := range filters {
		key, op := string(f.Key), strings.TrimSpace(string(f.Operator))
		kind, isField := fields[key]
		if !isField && !slices.Contains(tags, key) {
			continue
		}
		lit := func(v string) (query.Literal, error) {
			if !isField {
				return query.Literal{Kind: query.LitString, Str: v}, nil
			}
			return literalForKind(kind, v)
		}
		var e query.Expr
		switch op {
		case "=", "!=", "<", ">", "<=", ">=":
			l, err := lit(string(f.Value))
			if err != nil {
				return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, f.Value, err)
			}
			e = &query.Compare{Name: key, Op: op, Value: l}
		case "=~", "!~":
			l, err := regexLiteral(string(f.Value))
			if err != nil {
				return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, f.Value, err)
			}
			e = &query.Compare{Name: key, Op: op, Value: l}
		case "=|", "!=|":
			vals := f.Values
			if len(vals) == 0 {
				vals = []gfString{f.Value}
			}
			in := &query.In{Name: key, Not: op == "!=|"}
			for _, v := range vals {
				l, err := lit(string(v))
				if err != nil {
					return nil, gfBadRequest("ad-hoc filter %s %s %s: %v", key, op, v, err)
				}
				in.Values = append(in.Values, l)
			}
			e = in
		default:
			return nil, gfBadRequest("ad-hoc filter on %s: operator %q is not supported (use =, !=, <, >, <=, >=, =~, !~, =|, !=|)", key, op)
		}
		out = append(out, e)
	}
	return out, nil
}

// literalForKind reads an ad-hoc filter's value for a field of the kind.
func literalForKind(kind model.Kind, v string) (query.Literal, error) {
	switch {
	case kind.Numeric():
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return query.Literal{Kind: query.LitInteger, Int: n}, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return query.Literal{}, fmt.Errorf("the field is %s: %q is not a number", kind, v)
		}
		return query.Literal{Kind: query.LitNumber, Num: f}, nil
	case kind == model.KindBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return query.Literal{}, fmt.Errorf("the field is boolean: %q is not true or false", v)
		}
		return query.Literal{Kind: query.LitBool, Bool: b}, nil
	}
	return query.Literal{Kind: query.LitString, Str: v}, nil
}
