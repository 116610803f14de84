# Ports store code written against SQLite's API to the statement layer of
# src/store/db.h (which runs it on SQLite or PostgreSQL):
#   sed -i -f scripts/store-port.sed src/store/<file>.c
s/sqlite3_stmt\b/db_stmt/g
s/sqlite3_step(/db_step(/g
s/sqlite3_reset(/db_reset(/g
s/sqlite3_clear_bindings(/db_clear_bindings(/g
s/sqlite3_bind_int64(/db_bind_int64(/g
s/sqlite3_bind_int(/db_bind_int64(/g
s/sqlite3_bind_text(\(.*\), SQLITE_STATIC)/db_bind_text(\1)/g
s/sqlite3_bind_blob(\(.*\), SQLITE_STATIC)/db_bind_blob(\1)/g
s/sqlite3_bind_null(/db_bind_null(/g
s/sqlite3_column_\(int64\|int\|text\|blob\|bytes\|type\)(/db_column_\1(/g
s/sqlite3_changes(store__db(st))/store__changes(st)/g
s/sqlite3_changes(st->db)/store__changes(st)/g
s/sqlite3_extended_errcode(store__db(st)) == SQLITE_CONSTRAINT_UNIQUE/store__conflict(st)/g
s/sqlite3_prepare_v2(store__db(st), \([a-z_]*\), -1, &\([a-z]*\), NULL) != SQLITE_OK/store__prepare(st, \1, \&\2) != 0/g
s/sqlite3_prepare_v2(st->db, \([a-z_]*\), -1, &\([a-z]*\), NULL) != SQLITE_OK/store__prepare(st, \1, \&\2) != 0/g
s/sqlite3_finalize(/store__finalize(/g
s/sqlite3_int64/int64_t/g
s/SQLITE_ROW/DB_ROW/g
s/SQLITE_DONE/DB_DONE/g
s/SQLITE_NULL/DB_NULL/g
