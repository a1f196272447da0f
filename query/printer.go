package query

import (
	"strconv"
	"strings"
)

// String prints the statement as canonical text: keywords in upper case,
// identifiers quoted only when they must be, and clauses at their defaults
// (FILL(null), ORDER BY time ASC, OFFSET 0) left out. Parse(s.String())
// yields a tree equal to s apart from positions.
func (s *Statement) String() string {
	var b strings.Builder
	if s.Explain {
		b.WriteString("EXPLAIN ")
	}
	switch {
	case s.Select != nil:
		b.WriteString(s.Select.String())
	case s.Show != nil:
		b.WriteString(s.Show.String())
	case s.Delete != nil:
		b.WriteString(s.Delete.String())
	}
	return b.String()
}

// String prints the DELETE statement.
func (d *Delete) String() string {
	s := "DELETE FROM " + quoteIdent(d.From)
	if d.Where != nil {
		s += " WHERE " + ExprString(d.Where)
	}
	return s
}

// String prints the SHOW statement.
func (s *Show) String() string {
	switch s.Kind {
	case ShowCollections:
		return "SHOW COLLECTIONS"
	case ShowTagKeys:
		return "SHOW TAG KEYS" + showFrom(s.From)
	case ShowTagValues:
		return "SHOW TAG VALUES FROM " + quoteIdent(s.From) + " WITH KEY = " + quoteIdent(s.Key)
	case ShowFields:
		return "SHOW FIELDS" + showFrom(s.From)
	case ShowSeries:
		return "SHOW SERIES FROM " + quoteIdent(s.From)
	}
	return "SHOW"
}

// showFrom prints the FROM of a SHOW that may list every collection.
func showFrom(from string) string {
	if from == "" {
		return ""
	}
	return " FROM " + quoteIdent(from)
}

// String prints the SELECT statement.
func (s *Select) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.String())
	}
	b.WriteString(" FROM ")
	if s.Sub != nil {
		b.WriteString("(" + s.Sub.String() + ")")
	} else {
		b.WriteString(quoteIdent(s.From))
	}
	if s.Where != nil {
		b.WriteString(" WHERE ")
		b.WriteString(ExprString(s.Where))
	}
	if s.GroupBy != nil || len(s.GroupTags) > 0 || s.GroupAll {
		b.WriteString(" GROUP BY ")
		var groups []string
		if s.GroupBy != nil {
			g := "time(" + s.GroupBy.String()
			if o := s.GroupOffset; o != nil {
				if o.Sign < 0 {
					g += ", -" + o.Dur.String()
				} else {
					g += ", " + o.Dur.String()
				}
			}
			groups = append(groups, g+")")
		}
		for _, t := range s.GroupTags {
			if strings.EqualFold(t, "time") {
				groups = append(groups, quoteAlways(t))
			} else {
				groups = append(groups, quoteIdent(t))
			}
		}
		if s.GroupAll {
			groups = append(groups, "*")
		}
		b.WriteString(strings.Join(groups, ", "))
	}
	if s.Having != nil {
		b.WriteString(" HAVING ")
		b.WriteString(ExprString(s.Having))
	}
	if s.Fill.Mode != FillNull {
		b.WriteString(" " + s.Fill.String())
	}
	if s.TZ != "" {
		b.WriteString(" TZ(" + quoteString(s.TZ) + ")")
	}
	if s.Desc {
		b.WriteString(" ORDER BY time DESC")
	}
	if s.Limit > 0 {
		b.WriteString(" LIMIT " + strconv.FormatInt(s.Limit, 10))
	}
	if s.Offset > 0 {
		b.WriteString(" OFFSET " + strconv.FormatInt(s.Offset, 10))
	}
	return b.String()
}

// String prints the FILL clause, for example FILL(previous) or FILL(0).
func (f Fill) String() string {
	switch f.Mode {
	case FillNone:
		return "FILL(none)"
	case FillPrevious:
		return "FILL(previous)"
	case FillLinear:
		return "FILL(linear)"
	case FillValue:
		return "FILL(" + formatFloat(f.Value) + ")"
	}
	return "FILL(null)"
}

// String prints the item as written in a SELECT list, with its alias.
func (it Item) String() string {
	var s string
	switch {
	case it.Star && it.Func != "":
		return it.Name()
	case it.Star:
		return "*"
	case IsFunction(it.Func):
		s = it.callText(quoteIdent)
	case it.Expr != nil:
		s = ValueString(it.Expr)
	case it.Func == "percentile":
		s = "percentile(" + quoteIdent(it.Field) + ", " + formatFloat(it.Arg) + ")"
	case it.Func != "":
		s = it.Func + "(" + quoteIdent(it.Field) + ")"
	default:
		s = quoteIdent(it.Field)
	}
	if it.Alias != "" {
		s += " AS " + quoteIdent(it.Alias)
	}
	return s
}

// ExprString prints a WHERE expression with parentheses only where the
// precedence of AND over OR and left associativity require them.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// precedence returns how tightly e binds: OR 1, AND 2, conditions 3.
func precedence(e Expr) int {
	if b, ok := e.(*Binary); ok {
		if strings.EqualFold(b.Op, "OR") {
			return 1
		}
		return 2
	}
	return 3
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Binary:
		// The left spine of one operator prints without parentheses; it
		// is walked without recursion, so a long chain costs no stack.
		p := precedence(e)
		spine := []*Binary{e}
		for {
			l, ok := spine[len(spine)-1].LHS.(*Binary)
			if !ok || precedence(l) != p {
				break
			}
			spine = append(spine, l)
		}
		first := spine[len(spine)-1].LHS
		writeOperand(b, first, precedence(first) < p)
		for i := len(spine) - 1; i >= 0; i-- {
			b.WriteString(" " + strings.ToUpper(spine[i].Op) + " ")
			writeOperand(b, spine[i].RHS, precedence(spine[i].RHS) <= p)
		}
	case *Compare:
		b.WriteString(e.String())
	case *In:
		b.WriteString(e.String())
	case *Between:
		b.WriteString(e.String())
	case *ValueCompare:
		b.WriteString(e.String())
	}
}

func writeOperand(b *strings.Builder, e Expr, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	writeExpr(b, e)
	if paren {
		b.WriteByte(')')
	}
}

// String prints the expression; see ExprString.
func (e *Binary) String() string { return ExprString(e) }

// String prints the comparison, for example host =~ /^web/.
func (e *Compare) String() string {
	return quoteIdent(e.Name) + " " + e.Op + " " + e.Value.String()
}

// String prints the IN condition, for example host NOT IN ('a', 'b').
func (e *In) String() string {
	var b strings.Builder
	b.WriteString(quoteIdent(e.Name))
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, v := range e.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	b.WriteByte(')')
	return b.String()
}

// String prints the BETWEEN condition.
func (e *Between) String() string {
	return quoteIdent(e.Name) + " BETWEEN " + e.Low.String() + " AND " + e.High.String()
}

// String prints the literal with its offsets, for example now() - 30d,
// 'it\'s', /a\/b/, 1.5 or -7.
func (l Literal) String() string {
	var s string
	switch l.Kind {
	case LitString:
		s = quoteString(l.Str)
	case LitNumber:
		s = formatNumber(l.Num)
	case LitInteger:
		s = strconv.FormatInt(l.Int, 10)
	case LitBool:
		s = strconv.FormatBool(l.Bool)
	case LitRegex:
		s = quoteRegex(l.Str)
	case LitNow:
		s = "now()"
	}
	for _, o := range l.Offsets {
		s += " " + o.String()
	}
	return s
}

// String prints the offset, for example - 30d.
func (o Offset) String() string {
	if o.Sign < 0 {
		return "- " + o.Dur.String()
	}
	return "+ " + o.Dur.String()
}

var unitSuffix = map[Unit]string{
	Nanosecond: "ns", Microsecond: "us", Millisecond: "ms", Second: "s", Minute: "m",
	Hour: "h", Day: "d", Week: "w", Month: "M", Year: "y",
}

// String prints the duration as a literal, for example 30d, 1M or 500ms.
func (d Duration) String() string {
	return strconv.FormatInt(d.N, 10) + unitSuffix[d.Unit]
}

// formatNumber prints a LitNumber so that it reads back as a LitNumber: it
// always has a '.' or an exponent.
func formatNumber(f float64) string {
	s := formatFloat(f)
	if !strings.ContainsAny(s, ".eEN") { // N: NaN and Inf have no literal anyway
		s += ".0"
	}
	return s
}

// isReserved reports whether s is a keyword that must be quoted as a name.
func isReserved(s string) bool {
	for _, w := range reservedWords {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}

// quoteIdent returns the name as an identifier: bare when it is a plain word
// and not a keyword, otherwise double-quoted.
func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain && !isReserved(s) {
		return s
	}
	return quoteAlways(s)
}

// quoteAlways double-quotes a name, escaping '"' and '\'.
func quoteAlways(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// quoteString single-quotes a string, escaping '\” and '\'.
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// quoteRegex writes a regex source between slashes, escaping unescaped
// slashes; escape pairs are copied as they are.
func quoteRegex(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			b.WriteString(s[i : i+2])
			i++
		case s[i] == '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(s[i])
		}
	}
	b.WriteByte('/')
	return b.String()
}
