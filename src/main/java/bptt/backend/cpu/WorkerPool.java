// WorkerPool: a small persistent pool that splits an index range over the caller and a few workers.
package bptt.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs a {@link Task} over [0, n) in at most {@code threads} contiguous parts, the caller doing
 * part 0. Nothing is allocated per call: the task is a reusable object and the hand-off is a
 * volatile generation counter. Workers spin briefly, then park, so that idle workers do not
 * steal a core from OpenBLAS between ops. A task must not depend on how [0, n) is split: every
 * op that uses the pool writes disjoint outputs per index (or reduces in fixed chunks), so
 * results are the same for any thread count.
 */
final class WorkerPool implements AutoCloseable {

    /** Work on indices [from, to) of one op; {@code worker} in [0, threads) selects scratch space. */
    interface Task {
        void run(int worker, int from, int to);
    }

    private static final int SPIN = 4_000;

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private Task task;
    private int n;
    private int parts;
    private volatile Throwable failure;

    WorkerPool(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads];
        for (int w = 1; w < this.threads; w++) {
            int id = w;
            Thread t = new Thread(() -> loop(id), "bptt-cpu-" + w);
            t.setDaemon(true);
            workers[w] = t;
            t.start();
        }
    }

    int threads() { return threads; }

    /**
     * Runs task over [0, n), using one part per {@code grain} indices (at least one part, at
     * most one per thread). Returns when every part is done; rethrows a worker's failure.
     */
    void run(Task task, int n, int grain) {
        int p = (int) Math.min(threads, Math.max(1L, n / Math.max(1L, grain)));
        if (p <= 1) {
            task.run(0, 0, n);
            return;
        }
        this.task = task;
        this.n = n;
        this.parts = p;
        this.failure = null;
        pending.set(p - 1);
        generation++;
        for (int w = 1; w < p; w++) {
            LockSupport.unpark(workers[w]);
        }
        Throwable mine = null;
        try {
            task.run(0, 0, bound(1));
        } catch (Throwable e) {
            mine = e;
        }
        for (int spins = 0; pending.get() != 0; spins++) {
            if (spins < SPIN) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        this.task = null;
        Throwable first = mine != null ? mine : failure;
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first instanceof Error err) {
            throw err;
        }
    }

    /** Start of part i of [0, n) split in {@code parts} near-equal parts. */
    private int bound(int i) { return (int) ((long) n * i / parts); }

    private void loop(int id) {
        int seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (spins++ < SPIN) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            if (id < parts) {
                try {
                    task.run(id, bound(id), bound(id + 1));
                } catch (Throwable e) {
                    failure = e;
                }
                pending.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (int w = 1; w < threads; w++) {
            LockSupport.unpark(workers[w]);
        }
    }
}
