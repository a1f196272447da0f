package model

import "hash/fnv"

// GroupOf returns the group a device belongs to among n groups: FNV-1a
// (64 bit) of the device's name modulo n. A series' device is the value of
// its shard tag, or its series key when it has none. Storage files a series
// under this group and a cluster router sends its points to the group's
// node, so both must use this one function. n must be at least 1.
func GroupOf(device string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(device))
	return int(h.Sum64() % uint64(n))
}

// DeviceOf returns the device of a series (see GroupOf): the value of the
// shard tag when the series has it, else its series key.
func DeviceOf(key string, tags Tags, shardTag string) string {
	if tags.Has(shardTag) {
		return tags.Get(shardTag)
	}
	return key
}
