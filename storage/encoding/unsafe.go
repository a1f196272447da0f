package encoding

import "unsafe"

// asUint64s reinterprets a slice of a 64-bit integer type as []uint64.
func asUint64s[T ~int64 | ~uint64](s []T) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s))
}

// asInt64s reinterprets a []uint64 as []int64.
func asInt64s(s []uint64) []int64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&s[0])), len(s))
}

// asFloatBits reinterprets a []float64 as []uint64 storage.
func asFloatBits(s []float64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s))
}
