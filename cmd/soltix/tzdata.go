package main

// The binary carries the IANA time zone database (about 450 KB), so that
// TZ('Area/City') in a query works on machines without /usr/share/zoneinfo
// (distroless and scratch images, Windows). time.LoadLocation still prefers
// the system's copy when there is one.
import _ "time/tzdata"
