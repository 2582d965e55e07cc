// DenseDataCommandsTest: train, eval and predict on CSV and .npy files (regression and per-sequence classes) and --task series, on every backend; bad files fail in one line.
package bptt.cli;

import bptt.conformance.TestBackends;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DenseDataCommandsTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldErr;

    @BeforeEach
    void captureErr() {
        oldErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreErr() {
        System.setErr(oldErr);
    }

    /** y = a·b of two waves: a regression target of the other columns' recent past. */
    static Path waveCsv(Path dir) throws IOException {
        StringBuilder s = new StringBuilder("a,b,y\n");
        for (int t = 0; t < 1200; t++) {
            double a = Math.sin(0.05 * t);
            double b = Math.cos(0.11 * t);
            s.append(String.format(Locale.ROOT, "%.5f,%.5f,%.5f%n", a, b, a * b));
        }
        return Files.writeString(dir.resolve("wave.csv"), s);
    }

    /** A float32 .npy of the given shape. */
    static Path npy(Path dir, String name, String descr, int[] shape, float[] values) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (int d : shape) {
            dims.append(d).append(", ");
        }
        String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims.toString().replaceAll(", $",
                shape.length == 1 ? "," : "") + "), }";
        header = header + " ".repeat(127 - (10 + header.length()) % 128 + 0) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.US_ASCII));
        for (float v : values) {
            b.putFloat(v);
        }
        return Files.write(dir.resolve(name), b.array());
    }

    /** (N, T, 2) sequences: a wave whose frequency is the class, and the class id as the last column. */
    static Path classesNpy(Path dir) throws IOException {
        int n = 120;
        int t = 16;
        SplittableRandom random = new SplittableRandom(3);
        float[] v = new float[n * t * 2];
        for (int s = 0; s < n; s++) {
            int c = random.nextInt(3);
            for (int i = 0; i < t; i++) {
                v[(s * t + i) * 2] = (float) (Math.sin(0.3 * i * (c + 1)) + 0.05 * random.nextGaussian());
                v[(s * t + i) * 2 + 1] = c;
            }
        }
        return npy(dir, "classes.npy", "<f4", new int[]{n, t, 2}, v);
    }

    private static double number(String text, String pattern) {
        Matcher m = Pattern.compile(pattern).matcher(text);
        assertTrue(m.find(), "no '" + pattern + "' in:\n" + text);
        return Double.parseDouble(m.group(1));
    }

    private void ok(CliRun r) {
        assertEquals(0, r.exit(), r.out() + err.toString(StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu-ref", "cpu", "opencl", "cuda"})
    void csvRegressionTrainsEvaluatesAndPredicts(String backend) throws Exception {
        TestBackends.open(backend);
        Path csv = waveCsv(dir);
        Path save = dir.resolve("wave.safetensors");
        CliRun train = CliRun.of("train", "--backend", backend, "--data", csv.toString(), "--target-columns", "y",
                "--hidden", "16", "--batch", "8", "--seq-len", "24", "--steps", "80", "--lr", "0.01", "--eval-every", "40",
                "--save", save.toString());
        ok(train);
        assertTrue(train.out().contains("dense input of 3, 1 value per step"), train.out());
        double validation = number(train.out(), "validation: MSE ([0-9.e-]+), MAE");
        assertTrue(Files.size(dir.resolve("wave.loss.svg")) > 0 && Files.size(dir.resolve("wave.forecast.svg")) > 0);

        CliRun eval = CliRun.of("eval", "--backend", backend, "--checkpoint", save.toString(), "--json");
        ok(eval);
        double mse = number(eval.out(), "\"mse\": ([0-9.e-]+)");
        assertTrue(number(eval.out(), "\"mae\": ([0-9.e-]+)") > 0, eval.out());
        // y = a·b has variance 1/4: the trained model does far better than predicting its mean
        assertTrue(mse < 0.05 && validation < 0.05, "MSE " + mse + " (validation " + validation + ")");

        CliRun predict = CliRun.of("predict", "--backend", backend, "--checkpoint", save.toString());
        ok(predict);
        String[] lines = predict.out().split("\n");
        assertEquals("sequence,step,predicted_y", lines[0]);
        assertEquals(1 + 1200, lines.length, "one row per step of the file");
        double y100 = Math.sin(0.05 * 101) * Math.cos(0.11 * 101);
        assertEquals(y100, Double.parseDouble(lines[1 + 100].split(",")[2]), 0.3, "step 100 predicts step 101's y");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu-ref", "cpu", "opencl", "cuda"})
    void npySequencesLearnOneClassPerSequence(String backend) throws Exception {
        TestBackends.open(backend);
        Path save = dir.resolve("classes.safetensors");
        CliRun train = CliRun.of("train", "--backend", backend, "--data", classesNpy(dir).toString(), "--classes", "3",
                "--hidden", "16", "--batch", "12", "--steps", "60", "--lr", "0.02", "--eval-every", "0",
                "--save", save.toString());
        ok(train);
        assertTrue(train.out().contains("3 classes, one per sequence"), train.out());
        CliRun eval = CliRun.of("eval", "--backend", backend, "--checkpoint", save.toString(), "--json");
        ok(eval);
        assertTrue(number(eval.out(), "\"accuracy\": ([0-9.]+)") > 0.9, eval.out());
        CliRun predict = CliRun.of("predict", "--backend", backend, "--checkpoint", save.toString());
        ok(predict);
        String[] lines = predict.out().split("\n");
        assertEquals("sequence,step,class,probability", lines[0]);
        assertEquals(1 + 120, lines.length, "one row per sequence");
        assertTrue(lines[1].startsWith("0,15,"), lines[1]);
    }

    @Test
    void theSeriesTaskForecastsMackeyGlassAndDrawsPredictionAgainstTruth() throws Exception {
        Path save = dir.resolve("series.safetensors");
        CliRun train = CliRun.of("train", "--task", "series", "--backend", "cpu", "--hidden", "16", "--batch", "8",
                "--seq-len", "32", "--steps", "100", "--lr", "0.01", "--save", save.toString());
        ok(train);
        assertTrue(train.out().contains("Mackey-Glass"), train.out());
        // the series is standardised (variance 1): a forecast of the next value does far better
        assertTrue(number(train.out(), "validation: MSE ([0-9.e-]+)") < 0.1, train.out());
        String svg = Files.readString(dir.resolve("series.forecast.svg"));
        assertTrue(svg.contains("class=\"truth\"") && svg.contains("class=\"prediction\""), svg);
        assertTrue(Files.readString(dir.resolve("series.loss.svg")).contains("mean squared error"));
        CliRun eval = CliRun.of("eval", "--backend", "cpu-ref", "--checkpoint", save.toString());
        ok(eval);
        assertTrue(eval.out().contains("MSE"), eval.out());
    }

    @Test
    void horizonZeroPredictsAColumnFromTheOthersAtTheSameStep() throws Exception {
        Path save = dir.resolve("same.safetensors");
        CliRun train = CliRun.of("train", "--backend", "cpu-ref", "--data", waveCsv(dir).toString(), "--horizon", "0",
                "--hidden", "8", "--batch", "4", "--seq-len", "16", "--steps", "2", "--save", save.toString());
        ok(train);
        assertTrue(train.out().contains("dense input of 2, 1 value per step"), "y is no longer an input: " + train.out());
        CliRun predict = CliRun.of("predict", "--backend", "cpu-ref", "--checkpoint", save.toString());
        ok(predict);
        assertEquals(1 + 1200, predict.out().split("\n").length);
    }

    /** Runs the CLI and asserts exit code 2 and a single error line containing every fragment. */
    private void assertUserError(String[] args, String... fragments) {
        ErrorLine.assertUserError(Main.execute(args), err.toString(StandardCharsets.UTF_8), args, fragments);
        err.reset();
    }

    private String[] train(Path data, String... more) {
        String[] base = {"train", "--backend", "cpu-ref", "--data", data.toString(), "--steps", "1", "--save",
                dir.resolve("m.safetensors").toString()};
        String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void badFilesFailInOneLine() throws Exception {
        assertUserError(train(Files.writeString(dir.resolve("ragged.csv"), "a,b\n1,2\n3\n4,5\n")), "ragged.csv", "line 3");
        assertUserError(train(Files.writeString(dir.resolve("text.csv"), "a,b\n1,2\n3,x\n")), "'x' is not a number");
        assertUserError(train(Files.writeString(dir.resolve("nan.csv"), "a,b\n1,2\n3,NaN\n")), "NaN");
        assertUserError(train(npy(dir, "f8.npy", "<f8", new int[]{4, 2}, new float[16])), "float64", "float32");
        assertUserError(train(npy(dir, "i4.npy", "<i4", new int[]{4, 2}, new float[8])), "i4.npy");
        assertUserError(train(npy(dir, "4d.npy", "<f4", new int[]{2, 2, 2, 2}, new float[16])), "4d.npy", "shape");
        assertUserError(train(npy(dir, "short.npy", "<f4", new int[]{40, 2}, new float[8])), "short.npy");
        assertUserError(train(npy(dir, "nan.npy", "<f4", new int[]{4, 2}, new float[]{1, 2, 3, Float.NaN, 5, 6, 7, 8})),
                "nan.npy", "NaN");
        assertUserError(train(Files.writeString(dir.resolve("inf.csv"), "a,b\n1,2\n3,Infinity\n")), "inf.csv");
        assertUserError(train(waveCsv(dir), "--target-columns", "z"), "no column 'z'", "a, b, y");
        assertUserError(train(waveCsv(dir), "--classes", "3", "--target-columns", "y"), "class ids are whole numbers");
        assertUserError(new String[]{"predict", "--checkpoint", dir.resolve("none.safetensors").toString()},
                "none.safetensors");
    }
}
