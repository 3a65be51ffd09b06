//go:build !race

package plugin

// raceEnabled is set when the tests run under the race detector, which
// multiplies memory and time: measurements of either mean nothing then.
const raceEnabled = false
