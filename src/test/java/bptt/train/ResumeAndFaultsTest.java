// ResumeAndFaultsTest: N steps equal N/2 + resume N/2 bit for bit; divergence keeps the last checkpoint.
package bptt.train;

import bptt.backend.Backend;
import bptt.conformance.TestBackends;
import bptt.rnn.Cell;
import bptt.rnn.Schedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResumeAndFaultsTest {
    @TempDir
    Path dir;

    private static final String TEXT = "the quick brown fox jumps over the lazy dog; ".repeat(4);

    private static TrainSettings settings(String optimizer, int steps) {
        return settings(optimizer, steps, Cell.TANH);
    }

    private static TrainSettings settings(String optimizer, int steps, Cell cell) {
        return new TrainSettings(12, 2, 3, 7, steps, 0.01f, Optimizer.parseKind(optimizer), 1f, 3, 0.1, 0, 0, 0, cell);
    }

    static Backend open(String name) {
        return TestBackends.openFresh(name);
    }

    /** Runs `steps` steps; returns the per-step losses and the final parameters. */
    private static List<Object> train(Trainer trainer, int steps) {
        List<Double> losses = new ArrayList<>();
        while (trainer.step() < steps) {
            losses.add(trainer.trainStep());
        }
        return List.of(losses, trainer.rnn().backend().download(trainer.rnn().params()));
    }

    @ParameterizedTest(name = "{0} {1} {2} checkpoint-every {3}")
    @CsvSource({"cpu-ref, tanh, adam, 0", "cpu-ref, tanh, adagrad, 3", "cpu-ref, tanh, sgd, 0", "cpu, tanh, adam, 0",
            "cpu, tanh, adam, 2", "cuda, tanh, adam, 0", "cuda, tanh, adagrad, 3", "cpu-ref, lstm, adam, 0",
            "cpu, lstm, adam, 3", "cpu-ref, gru, sgd, 2", "cpu, gru, adam, 0", "cuda, lstm, adam, 3", "cuda, gru, sgd, 0"})
    void trainingNStepsEqualsHalfThenResumeBitForBit(String backend, String cellName, String optimizer,
                                                     int checkpointEvery) {
        int n = 40; // more than one epoch of 3 streams × 7 steps, so the reset at the epoch end is crossed
        Corpus corpus = Corpus.load(writeText(), 0.1);
        Schedule schedule = new Schedule(checkpointEvery, 0);
        Cell cell = Cell.parse(cellName);
        Path ckpt = dir.resolve("half.safetensors");
        List<Object> straight;
        try (Backend be = open(backend); Trainer t = new Trainer(be, corpus, settings(optimizer, n, cell), schedule)) {
            assertTrue(new TokenStreams(corpus.trainTokens(), 3).windows(7) < n, "the run must cross an epoch");
            straight = train(t, n);
        }
        List<Double> resumedLosses = new ArrayList<>();
        try (Backend be = open(backend); Trainer t = new Trainer(be, corpus, settings(optimizer, n, cell), schedule)) {
            @SuppressWarnings("unchecked")
            List<Double> first = (List<Double>) train(t, n / 2).get(0);
            resumedLosses.addAll(first);
            CheckpointIo.save(ckpt, TrainingState.capture(t));
        }
        float[] resumedParams;
        try (Backend be = open(backend); Trainer t = new Trainer(be, corpus, settings(optimizer, n, cell), schedule)) {
            TrainingState.resume(t, CheckpointIo.load(ckpt));
            assertEquals(n / 2, t.step());
            List<Object> second = train(t, n);
            @SuppressWarnings("unchecked")
            List<Double> rest = (List<Double>) second.get(0);
            resumedLosses.addAll(rest);
            resumedParams = (float[]) second.get(1);
        }
        assertEquals(straight.get(0), resumedLosses, "per-step losses");
        assertArrayEquals((float[]) straight.get(1), resumedParams, "final weights, bit for bit");
    }

    @Test
    void divergenceNamesTheStepAndLeavesTheLastCheckpointIntact() {
        Corpus corpus = Corpus.load(writeText(), 0.1);
        Path ckpt = dir.resolve("good.safetensors");
        try (Backend be = open("cpu-ref"); Trainer t = new Trainer(be, corpus, settings("adam", 10))) {
            train(t, 3);
            CheckpointIo.save(ckpt, TrainingState.capture(t));
            t.setLastGoodCheckpoint(ckpt.toString(), 3);
            float[] good = be.download(t.rnn().params());
            float[] poisoned = good.clone();
            poisoned[poisoned.length - 1] = Float.NaN; // by: every logit sees it
            be.upload(poisoned, t.rnn().params());
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::trainStep);
            assertTrue(e.getMessage().contains("step 4"), e.getMessage());
            assertTrue(e.getMessage().contains(ckpt.toString()) && e.getMessage().contains("intact"), e.getMessage());
            assertArrayEquals(good, CheckpointIo.load(ckpt).params(), "the last good checkpoint still loads unchanged");
        }
    }

    @Test
    void resumingWithADifferentModelIsAClearError() {
        Corpus corpus = Corpus.load(writeText(), 0.1);
        Path ckpt = dir.resolve("m.safetensors");
        try (Backend be = open("cpu-ref"); Trainer t = new Trainer(be, corpus, settings("adam", 2))) {
            train(t, 1);
            CheckpointIo.save(ckpt, TrainingState.capture(t));
        }
        TrainSettings wider = new TrainSettings(16, 2, 3, 7, 2, 0.01f, Optimizer.Kind.ADAM, 1f, 3, 0.1, 0, 0, 0);
        try (Backend be = open("cpu-ref"); Trainer t = new Trainer(be, corpus, wider)) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> TrainingState.resume(t, CheckpointIo.load(ckpt)));
            assertTrue(e.getMessage().contains("12 hidden") && e.getMessage().contains("--hidden"), e.getMessage());
        }
    }

    private Path writeText() {
        try {
            return java.nio.file.Files.writeString(dir.resolve("text.txt"), TEXT);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
