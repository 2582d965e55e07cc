// ThreadTeamTest: the thread team under stress (jobs of varying part counts), failures, parking and use after close.
package bptt.backend.cpu;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

class ThreadTeamTest {

    /**
     * Four threads, jobs of 1 to 4 parts in random order, back to back, with workers paused at
     * random right after they wake, before they read the job (where the old WorkerPool read the
     * generation, then separately the part count, and so could run a share of the next job
     * twice or drive its pending count negative): every index of every job must run exactly
     * once, in that job. A lost hand-off would hang, hence the timeout.
     */
    @Test
    void everyIndexOfEveryJobRunsExactlyOnce() {
        SplittableRandom pauses = new SplittableRandom(11);
        ThreadTeam.pauseAfterWake = () -> {
            int r;
            synchronized (pauses) {
                r = pauses.nextInt(8);
            }
            if (r == 0) {
                Thread.yield();
            } else if (r == 1) {
                long until = System.nanoTime() + 20_000;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            }
        };
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                try (ThreadTeam team = new ThreadTeam(4)) {
                    SplittableRandom random = new SplittableRandom(7);
                    AtomicIntegerArray hits = new AtomicIntegerArray(64);
                    AtomicIntegerArray stamp = new AtomicIntegerArray(64);
                    int[] job = new int[1];
                    ThreadTeam.Task task = (worker, from, to) -> {
                        for (int i = from; i < to; i++) {
                            hits.incrementAndGet(i);
                            stamp.set(i, job[0]);
                        }
                    };
                    for (int j = 1; j <= 20_000; j++) {
                        int parts = 1 + random.nextInt(4);
                        int n = parts + random.nextInt(64 - parts + 1);
                        job[0] = j;
                        team.runParts(task, n, parts);
                        for (int i = 0; i < 64; i++) {
                            int expected = i < n ? 1 : 0;
                            if (hits.getAndSet(i, 0) != expected || (i < n && stamp.get(i) != j)) {
                                fail("job " + j + " (" + parts + " parts over " + n + "): index " + i
                                        + " ran a wrong number of times or in another job");
                            }
                        }
                    }
                }
            });
        } finally {
            ThreadTeam.pauseAfterWake = null;
        }
    }

    /** Parts are [n·i/p, n·(i+1)/p) and part i runs on worker i. */
    @Test
    void partsAreContiguousAndOwnedByTheirWorker() {
        try (ThreadTeam team = new ThreadTeam(3)) {
            int[] owner = new int[10];
            team.runParts((worker, from, to) -> {
                for (int i = from; i < to; i++) {
                    owner[i] = worker;
                }
            }, 10, 3);
            assertEquals("[0, 0, 0, 1, 1, 1, 2, 2, 2, 2]", java.util.Arrays.toString(owner));
            assertEquals(1, team.partsFor(100, 60));
            assertEquals(3, team.partsFor(100, 1));
        }
    }

    /** A failing part fails the whole run with its own exception; the team keeps working. */
    @Test
    void aFailingPartIsRethrownAndTheTeamRecovers() {
        try (ThreadTeam team = new ThreadTeam(3)) {
            IllegalArgumentException boom = new IllegalArgumentException("boom");
            IllegalArgumentException got = assertThrows(IllegalArgumentException.class, () -> team.runParts((w, from, to) -> {
                if (w == 2) {
                    throw boom;
                }
            }, 9, 3));
            assertSame(boom, got);
            AtomicIntegerArray hits = new AtomicIntegerArray(9);
            team.runParts((w, from, to) -> {
                for (int i = from; i < to; i++) {
                    hits.incrementAndGet(i);
                }
            }, 9, 3);
            assertEquals("[1, 1, 1, 1, 1, 1, 1, 1, 1]", hits.toString());
        }
    }

    /** Idle workers stop spinning soon after their last part: they park and leave the core to others. */
    @Test
    void idleWorkersPark() throws InterruptedException {
        try (ThreadTeam team = new ThreadTeam(3)) {
            team.runParts((w, from, to) -> { }, 3, 3);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            for (int w = 1; w < 3; w++) {
                while (team.workerState(w) != Thread.State.WAITING) {
                    if (System.nanoTime() > deadline) {
                        fail("worker " + w + " still " + team.workerState(w) + " 5 s after its last job");
                    }
                    Thread.sleep(1);
                }
            }
        }
    }

    /** After close every run fails at once with a clear message, split or not. */
    @Test
    void runAfterCloseIsAClearError() {
        ThreadTeam team = new ThreadTeam(3);
        team.close();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> team.runParts((w, f, t) -> { }, 9, 3));
            assertEquals("the cpu backend is closed: open a new one", e.getMessage());
            assertThrows(IllegalStateException.class, () -> team.runParts((w, f, t) -> { }, 1, 1));
        });
    }
}
