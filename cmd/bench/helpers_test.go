package main

import "time"

// measured is a result of n events that took wall seconds and cpu CPU seconds.
func measured(name string, n int, wall, cpu float64) result {
	return result{pipeline: name, n: n, wall: time.Duration(wall * float64(time.Second)), user: time.Duration(cpu * 0.75 * float64(time.Second)), sys: time.Duration(cpu * 0.25 * float64(time.Second))}
}
