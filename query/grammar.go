package query

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the participle side of the parser: the token types and the
// grammar structs (the lexer is in lexer.go). The structs mirror the syntax
// closely and are converted into the AST of ast.go by parse.go, which also
// does every check that the grammar cannot express (known functions,
// ranges, one interval, ...).

// reservedWords are the keywords that cannot be used as bare identifiers;
// write them as "quoted" identifiers instead. Other words with a meaning in
// some places (time, now, true, TAG, FIELDS, none, DELETE, ...) stay
// ordinary names: DELETE only has a meaning as the first word of a
// statement, so keeping it out of this list breaks no existing name.
var reservedWords = []string{
	"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "BETWEEN",
	"GROUP", "BY", "FILL", "ORDER", "LIMIT", "OFFSET", "AS", "EXPLAIN",
	"SHOW", "ASC", "DESC",
}

// Token type names used by the grammar and by error reporting. The Bad*
// rules match malformed input so that the parser stops at it and Parse can
// say precisely what is wrong; the grammar never accepts them.
const (
	tokKeyword     = "Keyword"
	tokIdent       = "Ident"
	tokQIdent      = "QIdent"
	tokBadQIdent   = "BadQIdent"
	tokString      = "String"
	tokBadString   = "BadString"
	tokRegex       = "Regex"
	tokBadRegex    = "BadRegex"
	tokDuration    = "Duration"
	tokNumber      = "Number"
	tokBadNumber   = "BadNumber"
	tokOp          = "Op"
	tokPunct       = "Punct"
	tokBadChar     = "BadChar"
	ruleComment    = "comment"    // lower case: skipped by the lexer
	ruleWhitespace = "whitespace" // lower case: skipped by the lexer
)

// grammar is built once; participle parsers are safe for concurrent use.
var grammar = participle.MustBuild[gStatement](
	participle.Lexer(lexerDef),
	participle.CaseInsensitive(tokKeyword, tokIdent),
	participle.UseLookahead(0),
)

type gStatement struct {
	Explain bool     `parser:"@'EXPLAIN'?"`
	Select  *gSelect `parser:"( @@"`
	Show    *gShow   `parser:"| @@"`
	Delete  *gDelete `parser:"| @@ ) ';'?"`
}

type gDelete struct {
	Pos   lexer.Position
	From  *gIdent `parser:"'DELETE' 'FROM' @@"`
	Where *gOr    `parser:"( 'WHERE' @@ )?"`
}

type gSelect struct {
	Items  []*gItem  `parser:"'SELECT' @@ ( ',' @@ )*"`
	Sub    *gSelect  `parser:"'FROM' ( '(' @@ ')'"`
	From   *gIdent   `parser:"       | @@ )"`
	Where  *gOr      `parser:"( 'WHERE' @@ )?"`
	Group  []*gGroup `parser:"( 'GROUP' 'BY' @@ ( ',' @@ )* )?"`
	Having *gHaving  `parser:"( 'HAVING' @@ )?"`
	Fill   *gFill    `parser:"( 'FILL' '(' @@ ')' )?"`
	TZ     *gTZ      `parser:"@@?"`
	Order  *gOrder   `parser:"( 'ORDER' 'BY' @@ )?"`
	Limit  *gNumber  `parser:"( 'LIMIT' @@ )?"`
	Offset *gNumber  `parser:"( 'OFFSET' @@ )?"`
	TZEnd  *gTZ      `parser:"@@?"` // InfluxQL writes TZ last
}

// gTZ is TZ('Area/City').
type gTZ struct {
	Pos  lexer.Position
	Zone *string `parser:"'TZ' '(' @String ')'"`
}

type gIdent struct {
	Pos    lexer.Position
	Name   *string `parser:"  @Ident"`
	Quoted *string `parser:"| @QIdent"`
}

// gItem is an item of the SELECT list. An item that starts with a name
// keeps today's shape (Name, Call) and may go on with arithmetic (Ops); one
// that starts otherwise (a number, '(' or a sign) is Lead. expr.go lowers
// them.
type gItem struct {
	Pos   lexer.Position
	Star  bool       `parser:"( @'*'"`
	Name  *gIdent    `parser:"| @@"`
	Call  *gCall     `parser:"  ( '(' @@ ')' )?"`
	Ops   []*gOpTerm `parser:"  @@*"`
	Lead  *gArith    `parser:"| @@ )"`
	Alias *gIdent    `parser:"( 'AS' @@ )?"`
}

// gCall is the inside of fn(...). Field with Sub is a call (fn(g(x)));
// Ops and Lead, as in gItem, hold an argument that is an expression.
type gCall struct {
	Pos   lexer.Position
	Star  bool       `parser:"( @'*'"`
	Field *gIdent    `parser:"| @@"`
	Sub   *gCall     `parser:"  ( '(' @@ ')' )?"`
	Ops   []*gOpTerm `parser:"  @@*"`
	Lead  *gArith    `parser:"| @@ )"`
	// Arg is a number argument (percentile(v, 99), moving_average(v, 3));
	// Dur a duration one (derivative(v, 1s)).
	Arg *gNumber `parser:"( ',' ( @@"`
	Dur *gDur    `parser:"      | @@"`
	// Str is a string second argument (anomalies(v, 'zscore')); More the
	// arguments after the second (downsample(v, 500, 'm4')). Only the
	// analytics functions take them (query/analytics.go).
	Str  *gStrArg    `parser:"      | @@ ) )?"`
	More []*gMoreArg `parser:"( ',' @@ )*"`
}

// gStrArg is a string argument.
type gStrArg struct {
	Pos lexer.Position
	Str string `parser:"@String"`
}

// gMoreArg is an argument after the second one of a call: a string or a
// number.
type gMoreArg struct {
	Pos lexer.Position
	Str *string  `parser:"  @String"`
	Num *gNumber `parser:"| @@"`
}

// gArith is an arithmetic expression: factors joined by operators, kept
// flat (expr.go applies the precedence).
type gArith struct {
	First *gFactor   `parser:"@@"`
	Ops   []*gOpTerm `parser:"@@*"`
}

type gOpTerm struct {
	Op  string   `parser:"@( '+' | '-' | '*' | '/' | '%' )"`
	RHS *gFactor `parser:"@@"`
}

type gFactor struct {
	Pos   lexer.Position
	Sign  string   `parser:"(  @( '-' | '+' )"`
	Inner *gFactor `parser:"   @@"`
	Num   *string  `parser:" | @Number"`
	Paren *gArith  `parser:" | '(' @@ ')'"`
	Name  *gIdent  `parser:" | @@"`
	Call  *gCall   `parser:"   ( '(' @@ ')' )? )"`
}

// gHaving is the HAVING condition: comparisons of expressions joined by
// AND and OR (AND binding tighter).
type gHaving struct {
	Terms []*gHavingAnd `parser:"@@ ( 'OR' @@ )*"`
}

type gHavingAnd struct {
	Terms []*gHavingCmp `parser:"@@ ( 'AND' @@ )*"`
}

type gHavingCmp struct {
	Pos lexer.Position
	LHS *gArith `parser:"@@"`
	Op  string  `parser:"@Op"`
	RHS *gArith `parser:"@@"`
}

// gNumber is a number with an optional sign. The sign has its own branch so
// that a missing number is reported as such, not as a missing sign.
type gNumber struct {
	Pos    lexer.Position
	Num    *string  `parser:"  @Number"`
	Signed *gSigned `parser:"| @@"`
}

type gSigned struct {
	Sign string `parser:"@( '+' | '-' )"`
	Num  string `parser:"@Number"`
}

type gOr struct {
	Terms []*gAnd `parser:"@@ ( 'OR' @@ )*"`
}

type gAnd struct {
	Terms []*gTerm `parser:"@@ ( 'AND' @@ )*"`
}

type gTerm struct {
	Paren *gOr   `parser:"  '(' @@ ')'"`
	Cond  *gCond `parser:"| @@"`
}

type gCond struct {
	Pos     lexer.Position
	Name    *gIdent   `parser:"@@"`
	Between *gBetween `parser:"( @@"`
	In      *gIn      `parser:"| @@"`
	Cmp     *gCmp     `parser:"| @@ )"`
}

type gBetween struct {
	Low  *gValue `parser:"'BETWEEN' @@"`
	High *gValue `parser:"'AND' @@"`
}

type gIn struct {
	Not    bool      `parser:"( @'NOT' 'IN' | 'IN' )"`
	Values []*gValue `parser:"'(' @@ ( ',' @@ )* ')'"`
}

type gCmp struct {
	Op    string  `parser:"@Op"`
	Value *gValue `parser:"@@"`
}

type gValue struct {
	Pos     lexer.Position
	Now     bool       `parser:"(  @'now' '(' ')'"`
	Str     *string    `parser:" | @String"`
	Regex   *string    `parser:" | @Regex"`
	Bool    *string    `parser:" | @( 'true' | 'false' )"`
	Num     *gNumber   `parser:" | @@ )"`
	Offsets []*gOffset `parser:"@@*"`
}

type gOffset struct {
	Pos  lexer.Position
	Sign string `parser:"@( '+' | '-' )"`
	Dur  *gDur  `parser:"@@"`
}

type gDur struct {
	Pos  lexer.Position
	Text string `parser:"@Duration"`
}

type gGroup struct {
	Pos    lexer.Position
	Star   bool          `parser:"( @'*'"`
	Dur    *gDur         `parser:"| @@"`
	Name   *gIdent       `parser:"| @@"`
	Arg    *gDur         `parser:"  ( '(' @@"`
	Offset *gGroupOffset `parser:"    ( ',' @@ )? ')' )? )"`
}

// gGroupOffset is the offset of time(interval, offset).
type gGroupOffset struct {
	Pos  lexer.Position
	Sign *string `parser:"@( '+' | '-' )?"`
	Dur  *gDur   `parser:"@@"`
}

type gFill struct {
	Pos  lexer.Position
	Word *string  `parser:"  @Ident"`
	Num  *gNumber `parser:"| @@"`
}

type gOrder struct {
	Name *gIdent `parser:"@@"`
	Dir  *string `parser:"@( 'ASC' | 'DESC' )?"`
}

type gShow struct {
	Pos         lexer.Position
	Collections bool      `parser:"'SHOW' ( @( 'COLLECTIONS' | 'MEASUREMENTS' )"`
	Series      *gIdent   `parser:"| 'SERIES' 'FROM' @@"`
	TagKeys     bool      `parser:"| 'TAG' ( @'KEYS'"`
	TagKeysFrom *gIdent   `parser:"          ( 'FROM' @@ )?"`
	TagValues   *gIdent   `parser:"        | 'VALUES' 'FROM' @@"`
	Key         *gShowKey `parser:"          'WITH' 'KEY' '=' @@ )"`
	Fields      bool      `parser:"| @( 'FIELDS' | 'FIELD' 'KEYS' )"`
	FieldsFrom  *gIdent   `parser:"  ( 'FROM' @@ )? )"`
}

type gShowKey struct {
	Pos   lexer.Position
	Ident *gIdent `parser:"  @@"`
	Str   *string `parser:"| @String"`
}
