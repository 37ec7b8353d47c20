import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Throws unless `dir` is a directory that not every user can plant files in: not world-writable, unless the sticky
 * bit is set (as on /tmp, where others cannot rename or remove our files). A group-writable directory is the
 * admin's choice of who may; the random exclusive temp name below keeps even those from redirecting a write.
 */
export async function checkDir(dir: string): Promise<void> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
  if (st.mode & 0o002 && !(st.mode & 0o1000))
    throw Object.assign(new Error(`${dir} is writable by every user (mode ${(st.mode & 0o7777).toString(8)}); refusing to write there`), { code: 'EUNSAFEDIR' });
}

/**
 * Replaces `path` with `text` so that a reader sees the old file or the new one, never a mix, and the new one
 * survives a power cut: a temp file with a random name, created exclusively (`wx` is O_CREAT|O_EXCL, which never
 * follows a symlink planted at that name) in a directory checked by checkDir, fsync of the file, rename over the
 * target (which replaces a symlink there rather than writing through it), fsync of the directory (the rename itself
 * is only durable once the directory is synced).
 */
export async function writeFileDurable(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await checkDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/**
 * The text of `path`, opened with O_NOFOLLOW: a symlink in its place is refused (ELOOP), never read through, so
 * a file another user planted as a link cannot make us read (and report) what it points at.
 */
export async function readFileNoFollow(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await d.close();
  }
}
