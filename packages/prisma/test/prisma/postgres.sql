-- Tables of postgres.prisma, as `prisma migrate` would create them (it cannot run offline: it needs the schema
-- engine). Runs inside a schema of its own per test file (search_path set by the caller).
CREATE TABLE "User" (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "email" TEXT NOT NULL,
  "name" TEXT,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "balance" DECIMAL(65,30) NOT NULL DEFAULT 0,
  "visits" BIGINT NOT NULL DEFAULT 0,
  "avatar" BYTEA,
  "settings" JSONB,
  "score" DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Profile" (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "bio" TEXT NOT NULL,
  "userId" INTEGER NOT NULL,
  CONSTRAINT "Profile_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Profile_userId_key" ON "Profile"("userId");
CREATE TABLE "Post" (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "title" TEXT NOT NULL,
  "published" BOOLEAN NOT NULL DEFAULT false,
  "authorId" INTEGER NOT NULL,
  CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE "Comment" (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "body" TEXT NOT NULL,
  "postId" INTEGER NOT NULL,
  CONSTRAINT "Comment_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
