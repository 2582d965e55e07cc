// ThreadTeamTest: the thread team under stress (jobs of varying part counts), failures, parking and use after close.
package bptt.backend.cpu;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class ThreadTeamTest {

    /**
     * Four threads, 100,000 jobs of 1 to 4 parts in random order, back to back, with workers paused at
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
                    AtomicIntegerArray byWorker = new AtomicIntegerArray(4);
                    ThreadTeam.Task task = (worker, from, to) -> {
                        byWorker.incrementAndGet(worker);
                        for (int i = from; i < to; i++) {
                            hits.incrementAndGet(i);
                            stamp.set(i, job[0]);
                        }
                    };
                    for (int j = 1; j <= 100_000; j++) {
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
                    for (int w = 1; w < 4; w++) {
                        assertTrue(byWorker.get(w) > 0, "worker " + w + " never ran a part: " + byWorker);
                    }
                }
            });
        } finally {
            ThreadTeam.pauseAfterWake = null;
        }
    }

    /** Parts are [n·i/p, n·(i+1)/p), each run once, whichever thread claims it. */
    @Test
    void partsAreContiguousRanges() {
        try (ThreadTeam team = new ThreadTeam(3)) {
            int[] part = new int[10];
            AtomicIntegerArray ranges = new AtomicIntegerArray(3);
            team.runParts((worker, from, to) -> {
                int p = from == 0 ? 0 : from == 3 ? 1 : 2;
                ranges.incrementAndGet(p);
                for (int i = from; i < to; i++) {
                    part[i] = p;
                }
            }, 10, 3);
            assertEquals("[0, 0, 0, 1, 1, 1, 2, 2, 2, 2]", java.util.Arrays.toString(part));
            assertEquals("[1, 1, 1]", ranges.toString());
            assertEquals(1, team.partsFor(100, 60));
            assertEquals(3, team.partsFor(100, 1));
        }
    }

    /**
     * A worker that does not get to run (here: held right after it wakes, as a descheduled
     * thread would be) never stalls a job: the caller claims the parts itself.
     */
    @Test
    void jobsFinishWhileAWorkerIsHeld() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        ThreadTeam.pauseAfterWake = () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (ThreadTeam team = new ThreadTeam(2)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(2);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                for (int j = 0; j < 1000; j++) {
                    team.runParts((worker, from, to) -> {
                        assertEquals(0, worker, "only the caller runs while the worker is held");
                        for (int i = from; i < to; i++) {
                            hits.incrementAndGet(i);
                        }
                    }, 2, 2);
                }
            });
            assertEquals("[1000, 1000]", hits.toString());
        } finally {
            ThreadTeam.pauseAfterWake = null;
            release.countDown();
        }
    }

    /** A failing part (the last of three) fails the whole run with its own exception; the team keeps working. */
    @Test
    void aFailingPartIsRethrownAndTheTeamRecovers() {
        try (ThreadTeam team = new ThreadTeam(3)) {
            IllegalArgumentException boom = new IllegalArgumentException("boom");
            IllegalArgumentException got = assertThrows(IllegalArgumentException.class, () -> team.runParts((w, from, to) -> {
                if (from == 6) {
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
