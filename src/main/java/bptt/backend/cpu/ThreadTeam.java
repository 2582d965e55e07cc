// ThreadTeam: the cpu backend's one team of threads; splits an index range over the caller and its workers.
package bptt.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link Task} over [0, n) in at most {@code size} contiguous parts: the calling thread
 * does part 0, worker w does part w. It is the only set of threads the cpu backend computes on:
 * OpenBLAS runs single-threaded inside the parts (see {@link CpuBackend}), so the team never
 * oversubscribes the cores and no second pool spins against it.
 *
 * <p>Hand-off: the caller writes the job (task, n, parts), then posts it to each participating
 * worker through that worker's own volatile slot. A worker reads the job only after seeing its
 * slot change, and the caller cannot write the next job before every participant has finished
 * (it waits for {@code pending} to reach zero), so a worker never mixes two jobs; a worker that
 * does not take part in a job is not posted at all. Nothing is allocated per call.
 *
 * <p>Waiting: workers spin for {@link #SPIN_NANOS} after their last part (ops arrive back to back
 * within a training step), then park; the caller spins as long for the last part to finish, then
 * parks until the last worker unparks it. A parked thread costs nothing, so an idle backend, or
 * one that waits on BLAS or the disk, leaves the cores to others.
 *
 * <p>After {@link #close} every {@link #run} throws {@link IllegalStateException}.
 */
final class ThreadTeam implements AutoCloseable {

    /** Work on indices [from, to) of one job; {@code worker} in [0, size) selects scratch space. */
    interface Task {
        void run(int worker, int from, int to);
    }

    /** How long an idle thread spins before it parks. */
    static final long SPIN_NANOS = 50_000;

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

    /**
     * Tests set this to delay workers between seeing a post and reading the job, the window in
     * which the old WorkerPool could mix two jobs; null (a no-op) otherwise.
     */
    static volatile Runnable pauseAfterWake;

    private final int size;
    private final Slot[] slots;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    private volatile boolean callerSleeping;
    private volatile Thread caller;
    private long jobs;
    private long splitJobs;
    // The current job: written by the caller before posting, read by participants after.
    private Task task;
    private int n;
    private int parts;

    ThreadTeam(int size) {
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
        this.parts = parts;
        this.caller = Thread.currentThread();
        failure.set(null);
        pending.set(parts - 1);
        for (int w = 1; w < parts; w++) {
            Slot slot = slots[w];
            slot.posted = jobs;
            if (slot.sleeping) {
                LockSupport.unpark(slot.thread);
            }
        }
        try {
            task.run(0, 0, bound(1));
        } catch (RuntimeException | Error e) {
            failure.compareAndSet(null, e);
        }
        awaitWorkers();
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

    /** Start of part i of [0, n) split in {@code parts} near-equal parts. */
    private int bound(int i) { return (int) ((long) n * i / parts); }

    private void awaitWorkers() {
        long start = System.nanoTime();
        for (int spins = 0; pending.get() != 0; spins++) {
            if ((spins & 63) != 63 || System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            callerSleeping = true;
            if (pending.get() != 0) {
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
            try {
                task.run(id, bound(id), bound(id + 1));
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
            }
            if (pending.decrementAndGet() == 0 && callerSleeping) {
                LockSupport.unpark(caller);
            }
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
