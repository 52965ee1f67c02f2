//go:build !amd64 || purego

package runtime

const haveMD5x8 = false

// md5x8 computes the eight one-block digests of bl as state words: word k
// of lane j's digest is out[k][j].
func md5x8(bl *md5Blocks, out *[4][8]uint32) { md5x8Generic(bl, out) }

// md5x8Vector stands for the vector code other architectures do not have.
func md5x8Vector(bl *md5Blocks, out *[4][8]uint32) { md5x8Generic(bl, out) }

// md5x8Impls are the vector versions this CPU runs, by name, for tests.
func md5x8Impls() map[string]func(*md5Blocks, *[4][8]uint32) { return nil }

// md5One reports that no one-block digest beats crypto/md5 here.
func md5One(*[64]byte) (u128, bool) { return u128{}, false }

// md5OneWords reports that no one-block digest beats crypto/md5 here.
func md5OneWords(*blockWords) (u128, bool) { return u128{}, false }
