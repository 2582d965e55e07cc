// ThreadTeam: the cpu backend's one team of threads; splits an index range in parts that the caller and its workers claim.
package bptt.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link Task} over [0, n) in at most {@code size} contiguous parts: part i is always
 * [n·i/p, n·(i+1)/p), but whichever team thread is free claims the next part, the caller
 * included. It is the only set of threads the cpu backend computes on: OpenBLAS runs
 * single-threaded inside the parts (see {@link CpuBackend}), so the team never oversubscribes
 * the cores and no second pool spins against it.
 *
 * <p>Claiming: the caller writes the job (task, n), then publishes it in {@code claim}, one
 * word holding the job's number, its part count and its next unclaimed part, and posts the job
 * number to the workers it wants. Every thread, the caller first, takes parts by
 * compare-and-set on {@code claim}; a claim succeeds only while that job is still the current
 * one and has parts left, so a worker that wakes late (descheduled by the OS, say) either takes
 * a part of the job whose fields it read (the caller rewrites them only after every part has
 * finished), or finds the job gone and uses nothing it read. The caller returns when
 * every part has finished, and a part never waits for a worker that has not started: on a busy
 * machine the caller does the parts itself. Which thread runs a part changes nothing: tasks use
 * the worker index only to pick scratch space, so results depend on the parts alone.
 *
 * <p>Waiting: workers spin for {@link #SPIN_NANOS} after their last part (ops arrive back to back
 * within a training step), then park; the caller spins as long for running parts to finish,
 * then parks until the last one unparks it. A parked thread costs nothing, so an idle backend,
 * or one that waits on the disk, leaves the cores to others. Nothing is allocated per job.
 *
 * <p>After {@link #close} every {@link #run} throws {@link IllegalStateException}.
 */
final class ThreadTeam implements AutoCloseable {

    /** Work on indices [from, to) of one job; {@code worker} in [0, size) selects scratch space only. */
    interface Task {
        void run(int worker, int from, int to);
    }

    /** How long an idle thread spins before it parks. */
    static final long SPIN_NANOS = 50_000;

    /**
     * Tests set this to delay workers between seeing a post and reading the job, the window in
     * which the old WorkerPool could mix two jobs; null (a no-op) otherwise.
     */
    static volatile Runnable pauseAfterWake;

    /** One worker's mailbox, padded so that two workers' slots never share a cache line. */
    private static final class Slot {
        @SuppressWarnings("unused")
        private long p0, p1, p2, p3, p4, p5, p6;
        /** The number of the last job posted to this worker. */
        volatile long posted;
        /** True while the worker is (about to be) parked: the poster must unpark it. */
        volatile boolean sleeping;
        Thread thread;
        @SuppressWarnings("unused")
        private long q0, q1, q2, q3, q4, q5, q6;
    }

    /** Bits of the claim word for a part index and for a part count: at most 4095 threads. */
    private static final int PART_BITS = 12;
    private static final long PART_MASK = (1L << PART_BITS) - 1;

    private final int size;
    private final Slot[] slots;
    /** (job number << 2·PART_BITS) | (part count << PART_BITS) | next unclaimed part of that job. */
    private final AtomicLong claim = new AtomicLong();
    /** Parts of the current job that have finished. */
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    private volatile boolean callerSleeping;
    private volatile Thread caller;
    private long jobs;
    private long splitJobs;
    // The current job: written by the caller before it is published in claim.
    private Task task;
    private int n;

    ThreadTeam(int size) {
        if (size > PART_MASK) {
            throw new IllegalArgumentException("a team of " + size + " threads; at most " + PART_MASK);
        }
        this.size = Math.max(1, size);
        this.slots = new Slot[this.size];
        for (int w = 1; w < this.size; w++) {
            Slot slot = new Slot();
            int id = w;
            slot.thread = new Thread(() -> work(id, slot), "bptt-cpu-" + w);
            slot.thread.setDaemon(true);
            slots[w] = slot;
            slot.thread.start();
        }
    }

    /** Threads in the team, the caller included. */
    int size() { return size; }

    /** Jobs that ran in more than one part since the team started (tests check that ops really split). */
    long splitJobs() { return splitJobs; }

    /** The state of worker w (1 ≤ w < size): RUNNABLE while it spins or works, WAITING once parked. */
    Thread.State workerState(int w) { return slots[w].thread.getState(); }

    /** The part count {@link #run} uses for n indices at {@code grain} indices per part. */
    int partsFor(long n, long grain) { return (int) Math.min(size, Math.max(1L, n / Math.max(1L, grain))); }

    /**
     * Runs task over [0, n) in {@link #partsFor} parts (one per {@code grain} indices, at most
     * one per thread). Returns when every part is done; rethrows the first failure of any part.
     */
    void run(Task task, int n, long grain) { runParts(task, n, partsFor(n, grain)); }

    /** Runs task over [0, n) in exactly min(p, size) parts (1 when p ≤ 1); part i is [n·i/p, n·(i+1)/p). */
    void runParts(Task task, int n, int p) {
        checkOpen();
        jobs++;
        int parts = Math.max(1, Math.min(size, p));
        if (parts == 1) {
            task.run(0, 0, n);
            return;
        }
        splitJobs++;
        this.task = task;
        this.n = n;
        this.caller = Thread.currentThread();
        failure.set(null);
        done.set(0);
        claim.set(jobs << 2 * PART_BITS | (long) parts << PART_BITS);
        for (int w = 1; w < parts; w++) {
            Slot slot = slots[w];
            slot.posted = jobs;
            if (slot.sleeping) {
                LockSupport.unpark(slot.thread);
            }
        }
        claimParts(jobs, 0);
        awaitParts(parts);
        this.task = null;
        Throwable first = failure.getAndSet(null);
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first instanceof Error err) {
            throw err;
        }
    }

    /** Throws IllegalStateException once the team is closed. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the cpu backend is closed: open a new one");
        }
    }

    /**
     * Runs parts of job {@code job} until none is left. The fields read here are the job's own
     * whenever a claim succeeds: the caller rewrites them only after every part has finished,
     * which is after this claim.
     */
    private void claimParts(long job, int worker) {
        Task t = task;
        int total = n;
        while (true) {
            long c = claim.get();
            int part = (int) (c & PART_MASK);
            int count = (int) (c >>> PART_BITS & PART_MASK);
            if (c >>> 2 * PART_BITS != job || part >= count) {
                return;
            }
            if (!claim.compareAndSet(c, c + 1)) {
                continue;
            }
            try {
                t.run(worker, (int) ((long) total * part / count), (int) ((long) total * (part + 1) / count));
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
            }
            if (done.incrementAndGet() == count && callerSleeping) {
                LockSupport.unpark(caller);
            }
        }
    }

    private void awaitParts(int count) {
        long start = System.nanoTime();
        for (int spins = 0; done.get() != count; spins++) {
            if ((spins & 63) != 63 || System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            callerSleeping = true;
            if (done.get() != count) {
                LockSupport.park(this);
            }
            callerSleeping = false;
        }
    }

    private void work(int id, Slot slot) {
        long seen = 0;
        while (true) {
            long job = awaitPost(slot, seen);
            if (job < 0) {
                return;
            }
            seen = job;
            Runnable pause = pauseAfterWake;
            if (pause != null) {
                pause.run();
            }
            claimParts(job, id);
        }
    }

    /** Waits until a job newer than {@code seen} is posted to this slot; -1 once the team is closed. */
    private long awaitPost(Slot slot, long seen) {
        long start = System.nanoTime();
        for (int spins = 0; ; spins++) {
            if (closed) {
                return -1;
            }
            long job = slot.posted;
            if (job != seen) {
                return job;
            }
            if ((spins & 63) != 63 || System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            slot.sleeping = true;
            if (slot.posted == seen && !closed) {
                LockSupport.park(this);
            }
            slot.sleeping = false;
        }
    }

    /** Stops the workers; later calls of {@link #run} throw. */
    @Override
    public void close() {
        closed = true;
        for (int w = 1; w < size; w++) {
            LockSupport.unpark(slots[w].thread);
        }
    }
}
