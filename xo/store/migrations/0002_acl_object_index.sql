-- ACL entries are also looked up by object (the entries of an object that was deleted).
CREATE INDEX acls_by_object ON acls(object);
