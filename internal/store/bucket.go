package store

// FineBuckets lists the residues r = Position.Hash mod fine that a position
// of task bucket b under hashMod (Hash mod hashMod = b) can have. With
// g = gcd(hashMod, fine), Hash ≡ b (mod hashMod) implies Hash ≡ b (mod g),
// so they are exactly the r < fine with r ≡ b (mod g). When hashMod divides
// fine (g = hashMod), every position whose residue is listed belongs to the
// task, so a driver that indexes positions by Hash mod fine reads exactly a
// task's rows; otherwise it must still test Hash mod hashMod.
func FineBuckets(fine, hashMod, bucket int) []int64 {
	g := gcd(hashMod, fine)
	out := make([]int64, 0, fine/g)
	for r := bucket % g; r < fine; r += g {
		out = append(out, int64(r))
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
