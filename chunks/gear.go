package chunks

// gearSeed fixes the gear table. It is part of the chunking format: a
// different table moves every chunk boundary and defeats dedup against
// chunks written before, so it never changes.
const gearSeed uint64 = 0x616e6e616c2d6763 // "annal-gc"

// gear maps each byte value to a pseudo-random 64-bit word for the gear
// rolling hash. It is filled once from gearSeed by splitmix64, which is
// fully specified below, so every machine and release gets the same table
// (TestGearTableGolden pins its digest).
var gear = newGearTable(gearSeed)

func newGearTable(seed uint64) [256]uint64 {
	var table [256]uint64
	state := seed
	for i := range table {
		state, table[i] = splitmix64(state)
	}
	return table
}

// splitmix64 is Steele, Lea and Flood's generator (the seeding function of
// xoshiro); it returns the next state and the output word.
func splitmix64(state uint64) (next, out uint64) {
	next = state + 0x9e3779b97f4a7c15
	z := next
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return next, z ^ (z >> 31)
}
