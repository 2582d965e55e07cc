// OutputFile: checks, before any work, that a file bptt will write (checkpoint, loss curve, log) can be written safely.
package bptt.train;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A file bptt writes is reached through its symbolic links (a link is followed, never replaced)
 * and must be a regular file or not exist yet: a device, FIFO, socket or directory at that path
 * is refused, because replacing it by rename would destroy it and writing into it may block or
 * vanish. Its directory must accept a new file, which {@link #requireWritable} proves by creating
 * and removing a temporary file beside it, so an unwritable path fails at the start of a run
 * instead of at its first save.
 */
public final class OutputFile {
    private static final int MAX_LINKS = 40;

    private OutputFile() { }

    /** The path a write to {@code path} lands on: every symbolic link followed, even one whose target does not exist yet. */
    public static Path resolve(Path path) throws IOException {
        Path at = path.toAbsolutePath();
        for (int hops = 0; Files.isSymbolicLink(at); hops++) {
            if (hops == MAX_LINKS) {
                throw new FileSystemException(path.toString(), null, "too many levels of symbolic links");
            }
            at = at.getParent().resolve(Files.readSymbolicLink(at)).normalize();
        }
        Path parent = at.getParent();
        return parent != null && Files.isDirectory(parent) ? parent.toRealPath().resolve(at.getFileName()) : at;
    }

    /**
     * Fails with an {@link IllegalArgumentException} saying what to do unless {@code path} (named
     * {@code what} in messages, e.g. "--save") can be written as a regular file; creates its
     * directory when missing. Returns the resolved path.
     */
    public static Path requireWritable(Path path, String what) {
        if (path.toString().isEmpty()) {
            throw new IllegalArgumentException(what + " is empty; give a file path such as runs/model.safetensors");
        }
        Path target;
        try {
            target = resolve(path);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + path + " cannot be followed: " + reason(e));
        }
        requireRegularOrAbsent(path, target, what);
        Path dir = target.getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + path + ": cannot create its directory " + dir + " ("
                    + reason(e) + "); choose a path in a writable directory");
        }
        Path probe = dir.resolve("." + target.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1) + ".tmp");
        try {
            Files.newByteChannel(probe, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
            Files.delete(probe);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " " + path + " cannot be written: creating a file in " + dir
                    + " failed (" + reason(e) + "); choose a path in a writable directory");
        }
        return target;
    }

    /** Fails unless the resolved {@code target} is absent or a regular file. */
    static void requireRegularOrAbsent(Path given, Path target, String what) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException absent) {
            return;
        }
        String shown = given.equals(target) || given.toAbsolutePath().equals(target) ? given.toString()
                : given + " (-> " + target + ")";
        if (a.isDirectory()) {
            throw new IllegalArgumentException(what + " " + shown + " is a directory; give a file path, such as "
                    + given.resolve("model.safetensors"));
        }
        if (!a.isRegularFile()) {
            throw new IllegalArgumentException(what + " " + shown + " is not a regular file (a device, FIFO or socket);"
                    + " bptt replaces the file it writes, which would destroy it: give the path of a regular file");
        }
    }

    /** What went wrong, in words, without the exception's class name. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "a file of that name already exists";
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
