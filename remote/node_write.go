package remote

func (n *Node) writeRoutes() {}
