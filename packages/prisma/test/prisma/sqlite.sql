-- Tables of sqlite.prisma, as `prisma migrate` would create them (it cannot run offline: it needs the schema engine).
CREATE TABLE "User" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  "email" TEXT NOT NULL,
  "name" TEXT,
  "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "balance" DECIMAL NOT NULL DEFAULT 0,
  "visits" BIGINT NOT NULL DEFAULT 0,
  "avatar" BLOB,
  "settings" JSONB,
  "score" REAL NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Profile" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  "bio" TEXT NOT NULL,
  "userId" INTEGER NOT NULL,
  CONSTRAINT "Profile_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Profile_userId_key" ON "Profile"("userId");
CREATE TABLE "Post" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  "title" TEXT NOT NULL,
  "published" BOOLEAN NOT NULL DEFAULT false,
  "authorId" INTEGER NOT NULL,
  CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE "Comment" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  "body" TEXT NOT NULL,
  "postId" INTEGER NOT NULL,
  CONSTRAINT "Comment_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
