// AtomicSaveTest: a writer process killed with SIGKILL mid-save leaves the previous or the new checkpoint, whole.
package bptt.train;

import bptt.train.SafetensorsFile.Contents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class AtomicSaveTest {
    /** 64 MiB of data: a save takes long enough to be caught in the middle. */
    private static final int FLOATS = 16 << 20;
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(8);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void killedWriterLeavesAWholeCheckpoint() throws Exception {
        Path target = dir.resolve("model.safetensors");
        CheckpointWriterMain.save(target, FLOATS, 0);
        long version = verify(target, 0);
        Random random = new Random();
        int killedMidWrite = 0;
        // Round 0 kills as soon as a save starts; round 1 at a random moment (maybe during the fsync,
        // the rename or a later save); round 2 lets one save finish, then kills the next one.
        for (int round = 0; round < 3; round++) {
            Path log = dir.resolve("writer" + round + ".log");
            Process writer = startWriter(target, version + 1, log);
            try {
                if (round == 2) {
                    long before = version;
                    waitFor(writer, log, () -> savedCount(log) > 0, "a first complete save");
                    version = verify(target, before);
                }
                waitFor(writer, log, () -> !temporaryFiles(target).isEmpty(), "a save to begin");
                if (round == 1) {
                    Thread.sleep(random.nextInt(300));
                }
            } finally {
                writer.destroyForcibly();
                assertTrue(writer.waitFor(10, TimeUnit.SECONDS), "writer did not die");
            }
            if (!temporaryFiles(target).isEmpty()) {
                killedMidWrite++;
            }
            version = verify(target, version);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    assertTrue(f.equals(target) || AtomicFile.isTemporaryFor(target, f) || f.toString().endsWith(".log"),
                            "unexpected file " + f);
                }
            }
            deleteTemporaryFiles(target);
        }
        assertTrue(killedMidWrite > 0, "at least one kill landed in the middle of a save");
    }

    /** The checkpoint at {@code target} is whole and of version >= {@code atLeast}; returns its version. */
    private static long verify(Path target, long atLeast) {
        Contents c = SafetensorsFile.read(target);
        long version = Long.parseLong(c.metadata().get("version"));
        assertTrue(version >= atLeast, "version " + version + " went back from " + atLeast);
        assertEquals((float) version, c.tensors().get("version").values()[0]);
        float[] big = c.tensors().get("big").values();
        assertEquals(FLOATS, big.length);
        for (int i = 0; i < big.length; i++) {
            if (big[i] != CheckpointWriterMain.value(version, i)) {
                fail("value " + i + " of version " + version + " is " + big[i]);
            }
        }
        return version;
    }

    private Process startWriter(Path target, long firstVersion, Path log) throws IOException {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        return new ProcessBuilder(java, "-Xmx400m", "-cp", System.getProperty("java.class.path"),
                CheckpointWriterMain.class.getName(), target.toString(), Integer.toString(FLOATS),
                Long.toString(firstVersion))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    private static void waitFor(Process writer, Path log, Check check, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (!check.ok()) {
            if (!writer.isAlive()) {
                fail("writer exited (" + writer.exitValue() + ") before " + what + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what + ": " + Files.readString(log));
            }
            Thread.sleep(1);
        }
    }

    @FunctionalInterface
    private interface Check {
        boolean ok() throws Exception;
    }

    private static long savedCount(Path log) throws IOException {
        return Files.readAllLines(log).stream().filter(l -> l.startsWith("saved ")).count();
    }

    private static List<Path> temporaryFiles(Path target) {
        try (Stream<Path> files = Files.list(target.getParent())) {
            return files.filter(f -> AtomicFile.isTemporaryFor(target, f)).toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTemporaryFiles(Path target) throws IOException {
        for (Path f : temporaryFiles(target)) {
            Files.deleteIfExists(f);
        }
    }
}
