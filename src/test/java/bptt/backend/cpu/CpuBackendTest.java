// CpuBackendTest: the cpu backend with its default tuning (two threads) against cpu-ref; one thread team; use after close.
package bptt.backend.cpu;

import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cases of {@link CpuBackendCases} as users run the backend: default split thresholds. */
class CpuBackendTest extends CpuBackendCases {
    @Override
    CpuBackend open() { return new CpuBackend(2); }

    @Override
    boolean splitsEverything() { return false; }

    /** OpenBLAS never starts threads of its own: the team's threads are the only ones computing. */
    @Test
    void openBlasRunsOnTheCallingThreadOnly() {
        assertEquals(1, OpenBlas.threads());
    }

    /**
     * The latency path: a B=1, H=256 step (65K multiply-adds) runs on the calling thread with
     * no hand-off; a B=32, H=512 step (8.4M) is split over the team.
     */
    @Test
    void smallStepsStayOnTheCallingThread() {
        Pair waa = random(256, 256);
        Pair bias = random(1, 256);
        Pair h = random(1, 256);
        long before = cpu.team().splitJobs();
        cpu.tanhStepForward(h.got(), waa.got(), bias.got(), random(1, 256).got());
        cpu.tanhStepBackward(h.got(), waa.got(), random(1, 256).got(), random(1, 256).got());
        assertEquals(before, cpu.team().splitJobs(), "B=1 H=256 steps split");
        Pair big = random(512, 512);
        cpu.tanhStepForward(random(32, 512).got(), big.got(), random(1, 512).got(), random(32, 512).got());
        assertTrue(cpu.team().splitJobs() > before, "a B=32 H=512 step runs on the team");
    }

    /**
     * Next to no allocation per time step: a training pass at B=1 allocates less than 1 KB per
     * step on the calling thread once compiled (the shape checks' argument arrays, ~180 bytes);
     * a Vector API kernel that C2 fails to keep in registers boxes every vector instead, hundreds
     * of kilobytes per step and 25 times slower (as a second FloatVector shape in the process
     * once caused).
     */
    @Test
    void trainingStepsAllocateAlmostNothingPerTimeStep() {
        int seqLen = 100;
        RnnConfig config = RnnConfig.charModel(65, 256, 1);
        float[] ids = new float[seqLen];
        for (int i = 0; i < seqLen; i++) {
            ids[i] = random.nextInt(65);
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        try (Rnn rnn = new Rnn(cpu, config); Workspace ws = rnn.workspace(1, seqLen)) {
            rnn.initialize(3);
            WindowFill.fill(ws, ids, ids);
            long bytes = 0;
            for (int pass = 0; pass < 200; pass++) {   // C2 compiles the softmax row after ~5,000 rows
                long before = threads.getThreadAllocatedBytes(self);
                ws.forward();
                ws.backward();
                cpu.sgdUpdate(rnn.params(), rnn.grads(), 1e-3f, 1f);
                bytes = threads.getThreadAllocatedBytes(self) - before;
            }
            assertTrue(bytes < 1000L * seqLen, "the last training pass allocated " + bytes + " bytes for " + seqLen + " steps");
        }
    }

    /** Every op on a closed backend fails at once with one clear message, also ops large enough to split. */
    @Test
    void opsAfterCloseAreAClearError() {
        CpuBackend closed = new CpuBackend(2);
        int n = 1024;
        Tensor x = closed.alloc(n, n);
        Tensor y = closed.alloc(n, n);
        Tensor z = closed.alloc(n, n);
        Tensor row = closed.alloc(1, n);
        Tensor ids = closed.alloc(n, 1);
        closed.close();
        List<Executable> ops = List.of(
                () -> closed.gemm(false, x, false, y, 1f, 0f, z),
                () -> closed.axpy(1f, x, y),
                () -> closed.scale(2f, x),
                () -> closed.fill(x, 1f),
                () -> closed.fill(x, 0f),
                () -> closed.copy(x, y),
                () -> closed.biasTanh(x, row),
                () -> closed.tanhBackward(x, y),
                () -> closed.tanhStepForward(x, y, row, z),
                () -> closed.tanhStepBackward(x, y, z, closed.alloc(n, n)),
                () -> closed.sumRows(x, 0f, row),
                () -> closed.sumOfSquares(x),
                () -> closed.softmaxCrossEntropy(x, row, ids, 1f, y, ids),
                () -> closed.gatherColumns(ids, x, y),
                () -> closed.sgdUpdate(x, y, 0.1f, 1f),
                () -> closed.upload(new float[n], row),
                () -> closed.download(row));
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            for (Executable op : ops) {
                IllegalStateException e = assertThrows(IllegalStateException.class, op);
                assertEquals("the cpu backend is closed: open a new one", e.getMessage());
            }
        });
    }
}
