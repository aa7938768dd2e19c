package audit

import "testing"

// Mask runs on several fields of every audit record, and most hold
// digits but nothing to mask: those cost no allocation.
func TestMaskAllocatesOnlyToMask(t *testing.T) {
	for _, s := range []string{
		"/bank1/v1/accounts/acc-000001",
		"019a6c3e-5b8d-7f21-9c4e-2d6b1a0f7e53",
		"fields=balance&from=2024-01-15&amount=12345678901.25",
		"card=6228 4804 0256 4890 019", // not Luhn-valid
	} {
		if n := testing.AllocsPerRun(100, func() { _ = Mask(s) }); n != 0 {
			t.Errorf("Mask(%q): %v allocations, want 0", s, n)
		}
	}
}

func BenchmarkMask(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Mask("/bank1/v1/accounts/acc-000001")
		_ = Mask("019a6c3e-5b8d-7f21-9c4e-2d6b1a0f7e53")
		_ = Mask("fields=balance")
		_ = Mask("phone=13812345678&page=2")
	}
}
