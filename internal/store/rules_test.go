package store

import "testing"

func TestSettleRun(t *testing.T) {
	dead := &Task{ID: 7, ProductType: "FIXED_BOND", Bucket: 2, LastError: "position P1: no curve"}
	cases := []struct {
		name   string
		tally  RunTally
		ok     bool
		status string
		err    string
	}{
		{"running with open tasks", RunTally{Status: RunRunning, Open: 1}, false, "", ""},
		{"cancelling with a running task", RunTally{Status: RunCancelling, Open: 1}, false, "", ""},
		{"all succeeded", RunTally{Status: RunRunning}, true, RunCompleted, ""},
		{"queued run with nothing open", RunTally{Status: RunQueued}, true, RunCompleted, ""},
		{"one dead", RunTally{Status: RunRunning, Dead: 1, FirstDead: dead}, true, RunFailed,
			"task 7 (FIXED_BOND, bucket 2) failed: position P1: no curve"},
		{"three dead", RunTally{Status: RunRunning, Dead: 3, FirstDead: dead}, true, RunFailed,
			"3 tasks failed; first: task 7 (FIXED_BOND, bucket 2) failed: position P1: no curve"},
		{"cancelling wins over a dead task", RunTally{Status: RunCancelling, Dead: 1, FirstDead: dead}, true, RunCancelled, ""},
		{"completed stays", RunTally{Status: RunCompleted}, false, "", ""},
		{"failed stays", RunTally{Status: RunFailed, Dead: 1, FirstDead: dead}, false, "", ""},
		{"cancelled stays", RunTally{Status: RunCancelled}, false, "", ""},
		{"published stays", RunTally{Status: RunPublished}, false, "", ""},
	}
	for _, c := range cases {
		s, ok := SettleRun(c.tally)
		if ok != c.ok || s.Status != c.status || s.Error != c.err {
			t.Errorf("%s: SettleRun = %+v, %v; want {%s %q}, %v", c.name, s, ok, c.status, c.err, c.ok)
		}
	}
}

func TestTaskAfterFailureAndRelease(t *testing.T) {
	cases := []struct {
		run       string
		permanent bool
		failures  int
		max       int
		want      string
	}{
		{RunRunning, false, 1, 3, TaskQueued},
		{RunQueued, false, 2, 3, TaskQueued},
		{RunRunning, false, 3, 3, TaskDead},
		{RunRunning, true, 1, 3, TaskDead},
		{RunCancelling, false, 1, 3, TaskCancelled},
		{RunCancelling, true, 1, 3, TaskDead},
		{RunCancelling, false, 3, 3, TaskDead},
		{RunCompleted, false, 1, 3, TaskCancelled},
	}
	for _, c := range cases {
		if got := TaskAfterFailure(c.run, c.permanent, c.failures, c.max); got != c.want {
			t.Errorf("TaskAfterFailure(%s, permanent %v, failure %d of %d) = %s, want %s", c.run, c.permanent, c.failures, c.max, got, c.want)
		}
	}
	for run, want := range map[string]string{RunQueued: TaskQueued, RunRunning: TaskQueued, RunCancelling: TaskCancelled, RunFailed: TaskCancelled} {
		if got := TaskAfterRelease(run); got != want {
			t.Errorf("TaskAfterRelease(%s) = %s, want %s", run, got, want)
		}
	}
}

func TestTaskAfterLeaseExpiry(t *testing.T) {
	cases := []struct {
		run      string
		expiries int
		want     string
	}{
		{RunRunning, 1, TaskQueued},
		{RunQueued, 9, TaskQueued},
		{RunRunning, 10, TaskDead},
		{RunRunning, 11, TaskDead},
		{RunCancelling, 1, TaskCancelled},
		{RunCancelling, 10, TaskCancelled},
		{RunCompleted, 1, TaskCancelled},
	}
	if MaxLeaseExpiries != 10 {
		t.Fatalf("MaxLeaseExpiries = %d; the cases below assume 10", MaxLeaseExpiries)
	}
	for _, c := range cases {
		if got := TaskAfterLeaseExpiry(c.run, c.expiries); got != c.want {
			t.Errorf("TaskAfterLeaseExpiry(%s, expiry %d) = %s, want %s", c.run, c.expiries, got, c.want)
		}
	}
}
