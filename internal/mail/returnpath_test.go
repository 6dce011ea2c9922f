package mail

import (
	"strings"
	"testing"
)

func TestReturnPaths(t *testing.T) {
	off := NewReturnPaths("a secret key of at least thirty-two characters", "")
	if off.Enabled() || off.For(7, "m@x") != "" {
		t.Fatal("return paths without a bounce domain")
	}
	r := NewReturnPaths("a secret key of at least thirty-two characters", "Bounce.Acme.example")
	rp := r.For(7, "delivery-3.abc@acme.example")
	if !strings.HasPrefix(rp, "bounces+7-") || !strings.HasSuffix(rp, "@bounce.acme.example") || strings.ToLower(rp) != rp {
		t.Fatalf("return path %q", rp)
	}
	for _, addr := range []string{rp, strings.ToUpper(rp), "<" + rp + ">"} {
		id, sig, ok := r.Parse(addr)
		if !ok || id != 7 || !r.Valid(id, "delivery-3.abc@acme.example", sig) {
			t.Errorf("%q: id %d, ok %v, valid %v", addr, id, ok, r.Valid(id, "delivery-3.abc@acme.example", sig))
		}
	}
	id, sig, _ := r.Parse(rp)
	if r.Valid(id, "delivery-3.other@acme.example", sig) {
		t.Error("a signature is valid for another Message-ID")
	}
	other := NewReturnPaths("another secret key of thirty-two characters", "bounce.acme.example")
	if other.Valid(id, "delivery-3.abc@acme.example", sig) {
		t.Error("a signature is valid under another key")
	}
	for _, addr := range []string{"", "learn@acme.example", "bounces+@b.example", "bounces+7@b.example", "bounces+x-abc@b.example", "bounces+-1-abc@b.example"} {
		if _, _, ok := r.Parse(addr); ok {
			t.Errorf("%q parsed as a return path", addr)
		}
	}
}
