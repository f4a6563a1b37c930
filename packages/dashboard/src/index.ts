/**
 * @kage/dashboard — the lab dashboard as static files. The coordinator serves them at `/`; this
 * module only says where the build put them (`pnpm build` writes them, see build.mjs).
 */
import { fileURLToPath } from 'node:url';

/** The directory holding `index.html` and `assets/` (content-hashed names). */
export const DASHBOARD_DIR: string = fileURLToPath(new URL('../public', import.meta.url));
