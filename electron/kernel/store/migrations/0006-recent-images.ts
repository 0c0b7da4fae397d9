/**
 * Migration 6: images the technician inspected or flashed, offered first by the Flash screen's picker
 *
 * Released: never edit, only append a new migration (see ../README.md).
 */
export const recentImages = `CREATE TABLE recent_images (
     path TEXT PRIMARY KEY,
     used_ms INTEGER NOT NULL
   );`;
