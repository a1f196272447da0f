//go:build race

package httpapi

// raceEnabled is true when the tests run under the race detector, which
// makes them several times slower; the largest attack inputs are shrunk
// then, keeping what they check.
const raceEnabled = true
