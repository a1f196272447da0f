package etcdtest

// Pid returns the process id of the running etcd, 0 when it is stopped
// (bench reads its CPU time from /proc).
func (s *Server) Pid() int { return s.proc.Pid() }
