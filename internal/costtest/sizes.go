package costtest

import "fmt"

// Sizes are the input sizes of a benchmark family, N, 4N and 16N, so that
// a cost linear in the input shows as a constant time per byte.
var Sizes = []int{64 << 10, 256 << 10, 1 << 20}

// SizeName names a size in a benchmark's name.
func SizeName(n int) string { return fmt.Sprintf("%dKB", n>>10) }
