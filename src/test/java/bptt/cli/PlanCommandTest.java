// PlanCommandTest: bench --plan and train --plan (text, tasks, numeric files) print a run's memory without running it; T = 10M at H = 512 fits 1 GiB.
package bptt.cli;

import bptt.backend.Backends;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlanCommandTest {

    private static final long GIB = 1L << 30;

    /**
     * README (Long sequences): B = 16, T = 10,000,000, H = 512 plans to 618.0 MiB (312.2 MiB of
     * backend tensors, 305.2 MiB of one-byte ids and targets on the host), within 1 GiB; no device
     * tensor has T·B rows, only a segment's; and the largest T the plan names, 19,645,479, is the last that fits.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu-ref", "cpu"})
    void tenMillionStepsAtH512PlanToUnderOneGiB(String backend) {
        Assumptions.assumeTrue(Backends.provider(backend).probe().available(), backend + " unavailable");
        int seqLen = 10_000_000;
        JsonObject plan = plan(backend, seqLen);
        assertTrue(plan.get("fits").getAsBoolean(), plan.toString());
        assertEquals("618.0 MiB", mib(plan.get("total_bytes").getAsLong()));
        assertEquals("312.2 MiB", mib(plan.get("device_bytes").getAsLong()));
        assertEquals("305.2 MiB", mib(plan.get("host_bytes").getAsLong() + windowBytesOnHeap(plan)));
        assertEquals(3162, plan.get("checkpoint_every").getAsInt());
        for (JsonElement item : plan.getAsJsonArray("items")) {
            JsonObject i = item.getAsJsonObject();
            if (i.get("place").getAsString().equals("device")) {
                assertTrue(i.get("rows").getAsLong() < seqLen, "a device tensor of T rows or more: " + i);
            }
        }
        int largest = plan.get("largest_seq_len").getAsInt();
        assertEquals(19_645_479, largest, "the largest T within 1 GiB");
        assertTrue(plan(backend, largest).get("fits").getAsBoolean(), "the largest T fits");
        assertFalse(plan(backend, largest + 1).get("fits").getAsBoolean(), "one step more does not");
    }

    /** train --plan prints the plan (with the corpus's token ids) and trains nothing. */
    @Test
    void trainPlanPrintsThePlanWithoutTraining() {
        CliRun run = CliRun.of("train", "--backend", "cpu-ref", "--plan", "--memory", "1GiB", "--seq-len", "1000000",
                "--batch", "16", "--hidden", "32", "--checkpoint-every", "auto");
        assertEquals(0, run.exit(), run.out());
        assertTrue(run.out().startsWith("memory plan on cpu-ref: train text tanh B=16 T=1,000,000 H=32"), run.out());
        assertTrue(run.out().contains("training data: the corpus's token ids"), run.out());
        assertTrue(run.out().contains("--memory 1.0 GiB: fits; the largest T that fits is "), run.out());
        assertTrue(run.out().lines().allMatch(l -> l.startsWith("memory plan") || l.startsWith("  ")), "it trained: " + run.out());
    }

    /**
     * train --plan --memory names the largest T whose plan fits (Training.largestWindow), and
     * that T fits while T + 1 does not, by train --plan's own verdict.
     */
    @Test
    void trainPlanNamesTheLastWindowThatFits() {
        String[] args = {"train", "--backend", "cpu-ref", "--task", "adding", "--plan", "--memory", "64MiB", "--batch", "8",
                "--hidden", "64", "--cell", "lstm", "--checkpoint-every", "auto", "--seq-len"};
        CliRun run = CliRun.of(concat(args, "5000"));
        assertEquals(0, run.exit(), run.out());
        Matcher m = Pattern.compile("the largest T that fits is ([0-9,]+)").matcher(run.out());
        assertTrue(m.find(), run.out());
        int largest = Integer.parseInt(m.group(1).replace(",", ""));
        assertTrue(largest > 5000, run.out());
        assertTrue(CliRun.of(concat(args, Integer.toString(largest))).out().contains("--memory 64.0 MiB: fits;"));
        assertTrue(CliRun.of(concat(args, Integer.toString(largest + 1))).out().contains("--memory 64.0 MiB: does not fit;"));
    }

    /** --plan covers a run on a numeric file too: the model of its columns, and nothing trained or written. */
    @Test
    void trainPlanOfACsvFile(@TempDir Path dir) throws Exception {
        StringBuilder csv = new StringBuilder("x,y\n");
        for (int t = 0; t < 300; t++) {
            csv.append(Math.sin(0.1 * t)).append(',').append(Math.cos(0.1 * t)).append('\n');
        }
        Path file = Files.writeString(dir.resolve("wave.csv"), csv);
        Path save = dir.resolve("out/model.safetensors");
        CliRun run = CliRun.of("train", "--backend", "cpu-ref", "--data", file.toString(), "--target-columns", "y",
                "--plan", "--seq-len", "50", "--hidden", "8", "--save", save.toString());
        assertEquals(0, run.exit(), run.out());
        assertTrue(run.out().startsWith("memory plan on cpu-ref: train wave.csv tanh B=32 T=50 H=8 V=1 layers=1"), run.out());
        assertTrue(run.out().contains("parameter slab"), run.out());
        assertFalse(Files.exists(save.getParent()), "--plan wrote " + save.getParent());
    }

    private static String[] concat(String[] args, String last) {
        String[] all = java.util.Arrays.copyOf(args, args.length + 1);
        all[args.length] = last;
        return all;
    }

    @Test
    void memoryWithoutPlanOrNotASizeIsRefused() {
        assertEquals(2, CliRun.of("bench", "--backend", "cpu-ref", "--memory", "1GiB").exit());
        assertEquals(2, CliRun.of("train", "--backend", "cpu-ref", "--memory", "1GiB").exit());
        assertEquals(2, CliRun.of("bench", "--backend", "cpu-ref", "--plan", "--memory", "lots").exit());
    }

    private static JsonObject plan(String backend, int seqLen) {
        CliRun run = CliRun.of("bench", "--backend", backend, "--batch", "16", "--seq-len", Integer.toString(seqLen),
                "--hidden", "512", "--vocab", "65", "--checkpoint-every", "auto", "--plan", "--memory", "1GiB", "--json");
        assertEquals(0, run.exit(), run.out());
        JsonObject plan = JsonParser.parseString(run.out()).getAsJsonObject();
        assertEquals(GIB, plan.get("memory_bytes").getAsLong());
        return plan;
    }

    /** The window's staging when the backend keeps it in Java arrays (cpu-ref), which the plan counts as heap. */
    private static long windowBytesOnHeap(JsonObject plan) {
        long bytes = 0;
        for (JsonElement item : plan.getAsJsonArray("items")) {
            JsonObject i = item.getAsJsonObject();
            if (i.get("place").getAsString().equals("heap") && i.get("group").getAsString().equals("window")) {
                bytes += i.get("bytes").getAsLong();
            }
        }
        return bytes;
    }

    private static String mib(long bytes) { return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0); }
}
