package query

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// regexLexerDef is the lexer the parser used before lexer.go: participle's
// regexp lexer built from the rules listed there. It is the oracle the
// hand-written lexer must agree with, token for token.
var regexLexerDef = lexer.MustSimple([]lexer.SimpleRule{
	{Name: ruleComment, Pattern: `--[^\n]*`},
	{Name: ruleWhitespace, Pattern: `\s+`},
	{Name: tokKeyword, Pattern: `(?i)(?:` + strings.Join(reservedWords, "|") + `)\b`},
	{Name: tokIdent, Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: tokQIdent, Pattern: `(?s)"(?:\\.|[^"\\])*"`},
	{Name: tokBadQIdent, Pattern: `(?s)"(?:\\.|[^"\\])*`},
	{Name: tokBadString, Pattern: `(?s)'(?:''|\\.|[^'\\])*\\?\z`},
	{Name: tokString, Pattern: `(?s)'(?:''|\\.|[^'\\])*'`},
	{Name: tokRegex, Pattern: `(?s)/(?:\\.|[^/\\])*/`},
	{Name: tokBadRegex, Pattern: `(?s)/(?:\\.|[^/\\])*`},
	{Name: tokDuration, Pattern: `[0-9]+(?:ns|us|µs|ms|s|m|h|d|w|M|y)\b`},
	{Name: tokNumber, Pattern: `(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\b`},
	{Name: tokBadNumber, Pattern: `\.?[0-9][0-9A-Za-z_.µ]*`},
	{Name: tokOp, Pattern: `=~|!~|!=|<>|<=|>=|[=<>]`},
	{Name: tokPunct, Pattern: `[(),;*+\-]`},
	{Name: tokBadChar, Pattern: `(?s).`},
})

// lexAll returns every token of s, EOF included, as def lexes it.
func lexAll(t testing.TB, def lexer.StringDefinition, s string) []lexer.Token {
	t.Helper()
	lx, err := def.LexString("f", s)
	if err != nil {
		t.Fatalf("LexString(%q): %v", s, err)
	}
	toks, err := lexer.ConsumeAll(lx)
	if err != nil {
		t.Fatalf("lexing %q: %v", s, err)
	}
	return toks
}

// sameTokens fails unless both lexers lex s to the same tokens.
func sameTokens(t testing.TB, s string) {
	t.Helper()
	got, want := lexAll(t, lexerDef, s), lexAll(t, regexLexerDef, s)
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("lexing %q: token %d is %s, want %s", s, i, show(got[i]), show(want[i]))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("lexing %q: %d tokens, want %d", s, len(got), len(want))
	}
}

func show(t lexer.Token) string {
	name := "EOF"
	for n, typ := range lexerDef.Symbols() {
		if typ == t.Type {
			name = n
		}
	}
	return fmt.Sprintf("%s %q at %+v", name, t.Value, t.Pos)
}

func TestLexerSymbols(t *testing.T) {
	if got, want := lexerDef.Symbols(), regexLexerDef.Symbols(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Symbols() = %v, want %v", got, want)
	}
}

// TestLexer lists what each rule matches, in the tricky cases, and checks
// it against the regexp lexer too.
func TestLexer(t *testing.T) {
	tests := []struct {
		in   string
		want []string // "Type value", EOF left out
	}{
		{"", nil},
		{" \t\r\n\f", nil},
		{"\v", []string{"BadChar \v"}},
		{"a -- comment\nb", []string{"Ident a", "Ident b"}},
		{"--only", nil},
		{"a-b", []string{"Ident a", "Punct -", "Ident b"}},
		{"SELECT select SeLeCt ſelect", []string{"Keyword SELECT", "Keyword select", "Keyword SeLeCt", "Keyword ſelect"}},
		{"selectx select_ select1 select(", []string{"Ident selectx", "Ident select_", "Ident select1", "Keyword select", "Punct ("}},
		// \b after ſ, which is not a word character, needs one after it.
		{"as asc aſ aſc aſx", []string{"Keyword as", "Keyword asc", "Ident a", "BadChar ſ", "Keyword aſ", "Ident c", "Keyword aſ", "Ident x"}},
		{"or order orderx", []string{"Keyword or", "Keyword order", "Ident orderx"}},
		{"ſ ſx", []string{"BadChar ſ", "BadChar ſ", "Ident x"}},
		{"ſhow deſc", []string{"Keyword ſhow", "Keyword deſc"}},
		{"séléct", []string{"Ident s", "BadChar é", "Ident l", "BadChar é", "Ident ct"}},
		{"_a1 A_ z9", []string{"Ident _a1", "Ident A_", "Ident z9"}},
		{`"a b" "a\"b" "a\\" ""`, []string{`QIdent "a b"`, `QIdent "a\"b"`, `QIdent "a\\"`, `QIdent ""`}},
		{`"abc`, []string{`BadQIdent "abc`}},
		{`"abc\`, []string{`BadQIdent "abc`, `BadChar \`}},
		{"\"a\nb\"", []string{"QIdent \"a\nb\""}},
		{`'a' 'it''s' 'a\'b' ''`, []string{`String 'a'`, `String 'it''s'`, `String 'a\'b'`, `String ''`}},
		{`'abc`, []string{`BadString 'abc`}},
		{`'abc''`, []string{`BadString 'abc''`}},
		{`'abc\`, []string{`BadString 'abc\`}},
		{`'a' 'b`, []string{`String 'a'`, `BadString 'b`}},
		{`/a/ /a\/b/ /a`, []string{`Regex /a/`, `Regex /a\/b/`, `BadRegex /a`}},
		{`/a\`, []string{`BadRegex /a`, `BadChar \`}},
		{"1ns 2us 3µs 4ms 5s 6m 7h 8d 9w 10M 11y", []string{"Duration 1ns", "Duration 2us", "Duration 3µs", "Duration 4ms",
			"Duration 5s", "Duration 6m", "Duration 7h", "Duration 8d", "Duration 9w", "Duration 10M", "Duration 11y"}},
		{"1H 1mx 1h2 1h_ 1h.", []string{"BadNumber 1H", "BadNumber 1mx", "BadNumber 1h2", "BadNumber 1h_", "Duration 1h", "BadChar ."}},
		{"1 1.5 .5 1e3 1E+3 1.5e-3 .5e3", []string{"Number 1", "Number 1.5", "Number .5", "Number 1e3", "Number 1E+3",
			"Number 1.5e-3", "Number .5e3"}},
		{"1.5x", []string{"Number 1", "BadNumber .5x"}},
		{"1.x", []string{"Number 1", "BadChar .", "Ident x"}},
		{"1e", []string{"BadNumber 1e"}},
		{"1e+", []string{"BadNumber 1e", "Punct +"}},
		{"1e5x 1.2.3 1µ 1µx", []string{"BadNumber 1e5x", "Number 1.2", "Number .3", "Number 1", "BadChar µ", "Number 1", "BadChar µ", "Ident x"}},
		{"1éa", []string{"Number 1", "BadChar é", "Ident a"}},
		{". .a", []string{"BadChar .", "BadChar .", "Ident a"}},
		{"= =~ ! != !~ < <> <= > >= =<", []string{"Op =", "Op =~", "BadChar !", "Op !=", "Op !~", "Op <", "Op <>",
			"Op <=", "Op >", "Op >=", "Op =", "Op <"}},
		{"(),;*+-", []string{"Punct (", "Punct )", "Punct ,", "Punct ;", "Punct *", "Punct +", "Punct -"}},
		{"\xff\xc3(\xe2\x84", []string{"BadChar \xff", "BadChar \xc3", "Punct (", "BadChar \xe2", "BadChar \x84"}},
		{"\u212a k", []string{"BadChar \u212a", "Ident k"}}, // K (Kelvin) folds to k
	}
	for _, tt := range tests {
		sameTokens(t, tt.in)
		var got []string
		for _, tok := range lexAll(t, lexerDef, tt.in) {
			if !tok.EOF() {
				got = append(got, strings.SplitN(show(tok), " ", 2)[0]+" "+tok.Value)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("lexing %q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestLexerPositions(t *testing.T) {
	in := "SELECT\n  \"é\n\" -- x\n\xff  'a\nbc' é/r/"
	want := []lexer.Position{
		{Filename: "f", Offset: 0, Line: 1, Column: 1},  // SELECT
		{Filename: "f", Offset: 9, Line: 2, Column: 3},  // "é\n"
		{Filename: "f", Offset: 20, Line: 4, Column: 1}, // \xff
		{Filename: "f", Offset: 23, Line: 4, Column: 4}, // 'a\nbc'
		{Filename: "f", Offset: 30, Line: 5, Column: 5}, // é
		{Filename: "f", Offset: 32, Line: 5, Column: 6}, // /r/
		{Filename: "f", Offset: 35, Line: 5, Column: 9}, // EOF
	}
	sameTokens(t, in)
	toks := lexAll(t, lexerDef, in)
	var got []lexer.Position
	for _, tok := range toks {
		got = append(got, tok.Pos)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("positions of %q:\n got %#v\nwant %#v", in, got, want)
	}
}

// lexerSeeds are the statements of the parser's tests and benchmarks.
func lexerSeeds() []string {
	var seeds []string
	for _, tt := range parseTests {
		seeds = append(seeds, tt.in)
	}
	for _, tt := range errorTests {
		seeds = append(seeds, tt.in)
	}
	for _, bs := range benchStatements {
		seeds = append(seeds, bs.in)
	}
	seeds = append(seeds, tzSeeds...)
	return seeds
}

// lexerAlphabet are the pieces random statements are built from: bits of
// every token, and the bytes on which the rules differ.
var lexerAlphabet = []string{
	"SELECT", "select", "from", "Where", "and", "OR", "order", "in", "as", "asc", "desc", "show",
	"ſ", "aſ", "ſelect", "K", "k", "x", "_", "time", "now", "é", "µ", "µs",
	"0", "1", "42", "ns", "us", "ms", "s", "m", "h", "M", "y", "d", "w", "e", "E", ".", "+", "-", "--",
	"'", "''", `\`, `"`, "/", " ", " ", "\n", "\t", "\r", "\f", "\v",
	"=", "~", "!", "<", ">", "(", ")", ",", ";", "*",
	"\xff", "\xc3", "\xc5", "\xbf", "\xc2", "\xb5", "\xe2\x84\xaa", "\x00",
}

func randomStatement(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(12); n >= 0; n-- {
		b.WriteString(lexerAlphabet[r.IntN(len(lexerAlphabet))])
	}
	return b.String()
}

// TestLexerDifferential checks that the hand-written lexer agrees with the
// regexp lexer on the test statements, every prefix and suffix of them,
// and random strings of the pieces of tokens.
func TestLexerDifferential(t *testing.T) {
	for _, s := range lexerSeeds() {
		sameTokens(t, s)
		if len(s) > 500 {
			continue // quadratic in the length
		}
		for i := range len(s) {
			sameTokens(t, s[:i])
			sameTokens(t, s[i:])
		}
	}
	r := rand.New(rand.NewPCG(12, 0))
	for range 20000 {
		sameTokens(t, randomStatement(r))
	}
}

// FuzzLexer compares the hand-written lexer with the regexp lexer.
func FuzzLexer(f *testing.F) {
	for _, s := range lexerSeeds() {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(12, 1))
	for range 50 {
		f.Add(randomStatement(r))
	}
	f.Fuzz(func(t *testing.T, in string) {
		sameTokens(t, in)
	})
}
