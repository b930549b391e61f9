package teststore_test

import (
	"context"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/jackc/pgx/v5"
)

// A private cluster serves a database, refuses connections once stopped,
// and serves the same data again once started.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the private cluster test (initdb takes seconds)")
	}
	c := teststore.NewCluster(t)
	url := c.CreateDatabase("iprs_cluster")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	c.Stop("immediate")
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("the stopped cluster answered")
	}
	c.Start()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after the restart: %d, %v; want the committed 7", x, err)
	}
}
