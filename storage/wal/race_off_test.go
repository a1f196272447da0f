//go:build !race

package wal

// raceEnabled is true when the tests run under the race detector, which
// makes them several times slower; large inputs are shrunk then.
const raceEnabled = false
