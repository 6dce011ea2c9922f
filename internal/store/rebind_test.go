package store

import "testing"

func TestRebind(t *testing.T) {
	pg := &Queries{dialect: Postgres}
	lite := &Queries{dialect: SQLite}
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"},
		{"UPDATE t SET a = ?, b = 'it''s ?' WHERE id = ?", "UPDATE t SET a = $1, b = 'it''s ?' WHERE id = $2"},
	}
	for _, tt := range tests {
		if got := pg.rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := lite.rebind(tt.in); got != tt.in {
			t.Errorf("sqlite rebind(%q) = %q, want it unchanged", tt.in, got)
		}
	}
}
