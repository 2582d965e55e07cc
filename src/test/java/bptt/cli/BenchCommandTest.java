// BenchCommandTest: the documented FLOP count equals the GEMMs a step really runs; --json carries the keys.
package bptt.cli;

import bptt.backend.ProfilingBackend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Cell;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.WindowFill;
import bptt.rnn.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchCommandTest {

    /** Runs one step through a profiler and adds up 2·m·n·k over the GEMMs it recorded, fused step ops included. */
    @ParameterizedTest(name = "{0} B={1} T={2} H={3} V={4} layers={5}")
    @CsvSource({"tanh,2,3,5,7,1", "tanh,3,2,4,6,2", "tanh,1,4,3,5,3", "lstm,2,3,5,7,2", "gru,3,5,4,6,3", "lstm,1,9,3,5,1"})
    void flopsPerStepCountsEveryGemmOfAStep(String cellName, int batch, int seqLen, int hidden, int vocab, int layers) {
        Cell cell = Cell.parse(cellName);
        ProfilingBackend be = new ProfilingBackend(CpuRefBackend.float32());
        try (Rnn rnn = new Rnn(be, RnnConfig.charModel(cell, vocab, hidden, layers));
             Workspace ws = rnn.workspace(batch, seqLen)) {
            rnn.initialize(3);
            float[] ids = new float[batch * seqLen];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = i % vocab;
            }
            WindowFill.fill(ws, ids, ids);
            be.reset();
            ws.forward();
            ws.backward();
        }
        double counted = 0;
        for (ProfilingBackend.Entry e : be.entries()) {
            if (e.op().startsWith("gemm")) {
                String[] f = e.op().split("[ =]");
                counted += 2.0 * Long.parseLong(f[3]) * Long.parseLong(f[5]) * Long.parseLong(f[7]) * e.calls();
            } else if (e.op().matches("(tanh|lstm|gru)Step(Forward|Backward)")) {
                counted += 2.0 * batch * cell.gates() * hidden * hidden * e.calls();  // the recurrent (B,H)·(H,G·H) product inside
            }
        }
        assertEquals(counted, BenchCommand.flopsPerStep(cell, batch, seqLen, hidden, vocab, layers), 0.0);
    }

    @Test
    void jsonHasTheRequiredKeys() {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.execute("bench", "--backend", "cpu-ref", "--batch", "2", "--seq-len", "3", "--hidden", "5",
                    "--vocab", "7", "--warmup", "0", "--repeats", "1", "--json");
        } finally {
            System.setOut(old);
        }
        String json = out.toString(StandardCharsets.UTF_8).trim();
        assertEquals(0, code, json);
        assertTrue(json.startsWith("{") && json.endsWith("}") && json.lines().count() == 1, json);
        for (String key : new String[]{"\"backend\":\"cpu-ref\"", "\"batch\":2", "\"seq_len\":3", "\"hidden\":5",
                "\"vocab\":7", "\"ms_per_step\":", "\"tokens_per_s\":", "\"gflops\":", "\"peak_bytes\":"}) {
            assertTrue(json.contains(key), key + " missing in " + json);
        }
    }

    @Test
    void warmupSecondsKeepsWarmingUpBeyondTheStepCountAndReportsTheStepsRun() {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.execute("bench", "--backend", "cpu-ref", "--batch", "1", "--seq-len", "2", "--hidden", "3",
                    "--vocab", "5", "--warmup", "1", "--warmup-seconds", "0.5", "--repeats", "1", "--json");
        } finally {
            System.setOut(old);
        }
        String json = out.toString(StandardCharsets.UTF_8).trim();
        assertEquals(0, code, json);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"warmup\":(\\d+)").matcher(json);
        assertTrue(m.find(), json);
        assertTrue(Integer.parseInt(m.group(1)) > 1, "a tiny step warms up many times in 0.5 s: " + json);
        assertEquals(2, Main.execute("bench", "--backend", "cpu-ref", "--warmup-seconds", "-1"));
    }

    @Test
    void rejectsZeroRepeats() {
        assertEquals(2, Main.execute("bench", "--backend", "cpu-ref", "--repeats", "0"));
    }
}
